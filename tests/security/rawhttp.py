"""A tiny HTTP/1.1 client over a raw socket: sends the request line exactly as written.

httpx (like browsers) removes dot segments and re-encodes paths before sending, which is exactly what an
attacker does not do; probes of path handling and of chunked bodies need the bytes on the wire as given.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _read_chunked(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


def read_until_close(sock: socket.socket, *, timeout_fails: bool = True) -> bytes:
    """Everything the peer sends until it closes or resets the connection. A socket timeout fails the test
    (a server that neither answers nor closes is the defect these probes look for) unless
    ``timeout_fails`` is off, when what arrived so far is the answer."""
    received = b""
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return received
        except TimeoutError:
            if timeout_fails:
                raise AssertionError(f"no answer and no close; received so far: {received[:2000]!r}") from None
            return received
        if not data:
            return received
        received += data


def status_line(base_url: str, data: bytes, timeout: float = 20.0) -> bytes:
    """Send ``data`` as it is and return the status line of the answer (the server must close after it)."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout) as sock:
        sock.sendall(data)
        return read_until_close(sock).split(b"\r\n", 1)[0]


def request(base_url: str, method: str, target: str, headers: dict[str, str] | None = None,
            body: bytes | Iterable[bytes] = b"", chunked: bool = False, timeout: float = 20.0) -> RawResponse:
    """Send one request (``target`` verbatim) and read the whole response (the connection is closed)."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif isinstance(body, bytes) and (body or method in {"POST", "PUT", "PATCH"}):
        lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            if chunked:
                pieces = [body] if isinstance(body, bytes) else body
                for piece in pieces:
                    if piece:
                        sock.sendall(f"{len(piece):X}\r\n".encode() + piece + b"\r\n")
                sock.sendall(b"0\r\n\r\n")
            elif isinstance(body, bytes):
                sock.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (e.g. 413) and closed; read what it said
        received = read_until_close(sock, timeout_fails=False)
    head, _, rest = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    response_headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        response_headers[name.strip().lower()] = value.strip()
    if response_headers.get("transfer-encoding", "").lower() == "chunked":
        rest = _read_chunked(rest)
    return RawResponse(int(status_line.split()[1]), response_headers, rest)


#: what a probed server's LGSP_HEADER_TIMEOUT_SECONDS must be set to for :func:`probe_served_like_lgsp_serve`
HEAD_TIMEOUT = 2.0


def probe_served_like_lgsp_serve(base_url: str) -> None:
    """A server of lgsp's that others call (the gateway, also in the demo, which is the first one a new user
    or an outside tester meets; a witness) holds the same line as `lgsp serve`. Before, the demo's and the
    witness's had no head deadline and no head limit: a 3 MB header was answered 401."""
    from lgsp.gateway.deadlines import MAX_HEAD_BYTES

    big = b"GET /services/x HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * (3 * MAX_HEAD_BYTES) + b"\r\n\r\n"
    assert status_line(base_url, big) == b"HTTP/1.1 431 Request Header Fields Too Large"
    idle = b"GET /services/x HTTP/1.1\r\nHost: x\r\n"
    assert status_line(base_url, idle, timeout=HEAD_TIMEOUT * 10) == b"HTTP/1.1 408 Request Timeout"
