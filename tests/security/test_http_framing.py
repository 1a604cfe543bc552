"""Requests that are not valid HTTP/1.1, or whose head is enormous, get a problem+json answer and a close.

Before: uvicorn answered framing errors (Content-Length with chunked, two lengths, obs-fold, NUL in a
header: the material of request smuggling) in text/plain, unlike every other lgsp error; and httptools
sets no limit on a request head, so a 200 KB header or 5,000 headers were accepted (200), and a client could
stream headers for the whole head deadline. Real sockets against uvicorn with lgsp's protocol.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from lgsp.gateway.deadlines import MAX_HEAD_BYTES
from lgsp.testing.servers import RunningServer, start_server
from tests.security.rawhttp import read_until_close
from tests.security.test_slow_bodies import BodyReader, QuickDeadlines


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    running = start_server(BodyReader(), http=QuickDeadlines)
    yield running
    running.stop()


def _exchange(server: RunningServer, data: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=15) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass  # closed while we were still sending: read what it answered
        return read_until_close(sock)


def _problem(answer: bytes, status: int, kind: str) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status}".encode()), answer[:300]
    assert b"content-type: application/problem+json" in head.lower()
    problem = json.loads(body)
    assert problem["status"] == status and problem["type"] == f"https://lgsp.dev/problems/{kind}", problem


SMUGGLING = {
    "length and chunked": (b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"0\r\n\r\n"),
    "two lengths": b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
    "obs-fold": b"GET /x HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
    "bad chunk size": b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "NUL in a header": b"GET /x HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "space before the colon": b"GET /x HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n",
}


@pytest.mark.parametrize("name", list(SMUGGLING))
def test_malformed_framing_is_a_problem_json_400(server: RunningServer, name: str) -> None:
    _problem(_exchange(server, SMUGGLING[name]), 400, "bad-request")


@pytest.mark.parametrize("head", [
    b"GET /x HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * (3 * MAX_HEAD_BYTES) + b"\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: a\r\n" % i for i in range(MAX_HEAD_BYTES // 8)) + b"\r\n",
], ids=["one huge header", "many headers"])
def test_a_head_over_the_limit_is_a_431(server: RunningServer, head: bytes) -> None:
    _problem(_exchange(server, head), 431, "headers-too-large")


def test_a_head_under_the_limit_and_the_next_request_still_work(server: RunningServer) -> None:
    """A 16 KB header (big JWTs, long cookies) is fine, and the count starts again for each request."""
    one = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nX-A: " + b"a" * (MAX_HEAD_BYTES // 4) + b"\r\n\r\nhi"
    answer = _exchange(server, one * 6 + b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.count(b"HTTP/1.1 200") == 7, answer[:500]
