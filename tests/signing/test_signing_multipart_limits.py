"""``POST /signatures/verify`` holds a multipart upload to its limit while reading, not after spooling it.

A chunked multipart body has no Content-Length, and Starlette's form parser writes every file part to a
temporary file before the handler can look at its size: without a bound on the reading itself, a caller
could make the server take in (and write to disk) gigabytes before being told 413.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from lgsp.testing.servers import serve_in_thread
from signing import Policy, TrustStore
from signing import http as signing_http

LIMIT = 1000
BOUNDARY = "lgspboundary"


@pytest.fixture
def server_url(trust: TrustStore) -> Iterator[str]:
    app = FastAPI()
    app.include_router(signing_http.router)
    saved = dict(signing_http._state)
    signing_http.configure(trust, Policy(max_document_bytes=LIMIT))
    try:
        with serve_in_thread(app) as server:
            yield server.url
    finally:
        signing_http._state.clear()
        signing_http._state.update(saved)


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_a_chunked_multipart_upload_is_refused_before_it_is_all_sent(server_url: str) -> None:
    # The client sends the headers and 64 KiB + 4 KiB of the file part, then waits: the server must answer
    # 413 now. Reading on to the end of the body (the old behaviour) means no answer at all, since the
    # rest never comes.
    address = urlsplit(server_url)
    head = (f"POST /signatures/verify HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    part_head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.xml\"\r\n"
                 "Content-Type: application/xml\r\n\r\n").encode()
    with socket.create_connection((address.hostname or "127.0.0.1", address.port or 80), timeout=10) as sock:
        sock.sendall(head + _chunk(part_head + b"<a>"))
        for _ in range(17):
            sock.sendall(_chunk(b"x" * 4096))
        answer = b""
        while b"\r\n\r\n" not in answer:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                pytest.fail("the server kept reading the upload instead of answering 413")
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def _form(files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    body = b""
    for field, name, data in files:
        body += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode(), f"multipart/form-data; boundary={BOUNDARY}"


def test_detached_documents_count_towards_the_limit(server_url: str) -> None:
    # Each part alone is under the limit; together they are not. Before, only the `file` part was measured.
    body, content_type = _form([("file", "sig.xml", b"<a>" + b"x" * 500 + b"</a>"),
                                ("detached", "d1.bin", b"y" * 600)])
    response = httpx.post(f"{server_url}/signatures/verify", content=iter([body]),
                          headers={"content-type": content_type})
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_a_form_of_a_hundred_parts_is_a_problem_not_a_spool(server_url: str) -> None:
    body, content_type = _form([("detached", f"d{i}.bin", b"z") for i in range(100)])
    response = httpx.post(f"{server_url}/signatures/verify", content=iter([body]),
                          headers={"content-type": content_type})
    assert response.status_code == 400 and response.json()["type"].endswith("malformed-request")


def test_a_small_form_still_gets_its_report(server_url: str) -> None:
    body, content_type = _form([("file", "doc.xml", b"<a>not signed</a>")])
    response = httpx.post(f"{server_url}/signatures/verify", content=iter([body]),
                          headers={"content-type": content_type})
    assert response.status_code == 200, response.text
    assert response.headers["x-signature-indication"]
