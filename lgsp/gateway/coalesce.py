"""One write per response: uvicorn's httptools protocol with a transport that coalesces a loop turn's writes.

uvicorn writes a response's head when the app sends ``http.response.start`` and its body when it sends
``http.response.body``: two ``write()`` system calls (two TCP segments) for every small reply, where a
gateway answer is head and body sent back to back. Over loopback each call also runs the receiving side's
TCP processing, so the second one was a measurable part of the loop thread's system time (issue 14.1).

:class:`CoalescingTransport` holds the writes made while the loop runs one batch of callbacks and sends
them as one buffer from a callback scheduled with ``call_soon`` — still in that turn of the loop (after the
callbacks already queued), before it next waits for I/O, so nothing is delayed by a poll or a timer.
Order is kept (everything goes through the one buffer), flow control still works (the real transport
sees the same bytes and pauses the protocol as before, one callback later), and ``close()`` sends what is
held first; ``abort()`` drops it, as aborting a transport drops its buffer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """Wraps a transport: ``write`` calls made in one loop turn leave in a single ``write`` of the real one."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Send what is held now (the scheduled callback; also before closing)."""
        if not self._held:
            return
        data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        self._held = []
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = []
        self._transport.abort()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(chunk) for chunk in self._held)

    def __getattr__(self, name: str) -> Any:  # everything else (is_closing, pause_reading, extra info...)
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]
