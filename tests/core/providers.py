"""Provider apps for gateway tests: real HTTP servers with controllable behaviour."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
from collections import Counter

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

FLAKY_COUNTS: Counter[str] = Counter()


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({
        "method": request.method, "path": request.url.path, "query": request.url.query,
        "headers": {k: v for k, v in request.headers.items()},
        "header_list": [[k.decode(), v.decode()] for k, v in request.headers.raw],
        "body_sha256": hashlib.sha256(body).hexdigest(), "body_len": len(body),
    }, headers={"X-Provider": "echo", "Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "1",
                "Keep-Alive": "timeout=5"})


async def slow(request: Request) -> JSONResponse:
    await asyncio.sleep(float(request.query_params.get("s", "2")))
    return JSONResponse({"slow": True})


async def status(request: Request) -> Response:
    code = int(request.path_params["code"])
    return Response(f"provider says {code}".encode(), code)


async def flaky(request: Request) -> Response:
    """Fails with 503 the first `n` times for a given key, then succeeds."""
    key = request.path_params["key"]
    FLAKY_COUNTS[key] += 1
    if FLAKY_COUNTS[key] <= int(request.query_params.get("n", "1")):
        return Response(b"busy", 503)
    return JSONResponse({"attempt": FLAKY_COUNTS[key]})


async def big(request: Request) -> StreamingResponse:
    size = int(request.query_params.get("bytes", str(5 * 1024 * 1024)))

    async def chunks():  # type: ignore[no-untyped-def]
        block = bytes(range(256)) * 256  # 64 KiB
        sent = 0
        while sent < size:
            piece = block[: min(len(block), size - sent)]
            sent += len(piece)
            yield piece

    return StreamingResponse(chunks(), media_type="application/octet-stream")


async def upload(request: Request) -> JSONResponse:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return JSONResponse({"received": size, "sha256": digest.hexdigest()})


def provider_app() -> Starlette:
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    return Starlette(routes=[
        Route("/slow", slow), Route("/status/{code:int}", status, methods=methods),
        Route("/flaky/{key}", flaky, methods=methods), Route("/big", big), Route("/upload", upload, methods=["POST"]),
        Route("/{path:path}", echo, methods=methods),
    ])


class RawServer:
    """A TCP server that answers every connection with fixed bytes (HTTP or not), exactly as given."""

    def __init__(self, reply: bytes = b"\x00\x01garbage that is not an HTTP response\r\n\r\n") -> None:
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            try:
                conn.recv(65536)
                conn.sendall(self.reply)
            finally:
                conn.close()

    def stop(self) -> None:
        self._stop = True
        self.thread.join(2)
        self.sock.close()


GarbageServer = RawServer

HOP_BY_HOP_REPLY = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close, X-Secret-Hop\r\n"
                    b"X-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\n"
                    b"Set-Cookie: lgsp_console=planted; Path=/console\r\nSet-Cookie: other=1\r\n"
                    b"X-Provider: raw\r\nContent-Length: 2\r\n\r\nok")


def closed_port_url() -> str:
    """A URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
