"""A misbehaving provider: a raw asyncio TCP server on 127.0.0.1 that answers with whatever bytes (and
pauses, resets, silences) a test scripts, so the gateway's client meets what no well-behaved HTTP server
would send. A script is chosen by the first segment of the request path (``/{script}/...``).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class Request:
    """The request a script answers: its head (request line and headers) and its body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Script = Callable[[Request, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def reply(status: str, headers: list[tuple[str, str]], body: bytes = b"", version: str = "HTTP/1.1") -> bytes:
    """Response bytes exactly as given: no header is added or checked."""
    head = f"{version} {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("latin-1") + body


def fixed(data: bytes) -> Script:
    """Send ``data`` and close."""
    async def script(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
    return script


def reset_after(data: bytes) -> Script:
    """Send ``data``, then reset the connection (RST, not FIN)."""
    async def script(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    return script


def silent(seconds: float = 30.0) -> Script:
    """Accept the request and never answer (until ``seconds`` pass or the caller goes away)."""
    async def script(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.read(), seconds)
        except TimeoutError:
            pass
    return script


def drip(head: bytes, byte_every: float, total: int = 10_000) -> Script:
    """Send ``head``, then one body byte every ``byte_every`` seconds (a slowloris provider)."""
    async def script(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head)
        await writer.drain()
        for _ in range(total):
            await asyncio.sleep(byte_every)
            writer.write(b"x")
            await writer.drain()
    return script


class HostileServer:
    """The server, on its own event loop in a daemon thread; ``seen`` counts the requests per script."""

    def __init__(self, scripts: dict[str, Script]) -> None:
        self.scripts = scripts
        self.seen: Counter[str] = Counter()
        self.requests: list[Request] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise TimeoutError("hostile server did not start")
        assert self._server is not None
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
            request = Request(method, path, headers, body)
            name = path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
            self.seen[name] += 1
            self.requests.append(request)
            script = self.scripts.get(name)
            if script is None:
                writer.write(reply("404 Not Found", [("Content-Length", "0")]))
            else:
                await script(request, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            if not writer.transport.is_closing():
                writer.close()

    def stop(self) -> None:
        """Close the server, end the connections still open (a silent or dripping script), stop the loop.
        A second call does nothing (a test may stop its provider early, and its fixture again)."""
        if self._loop.is_closed():
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
