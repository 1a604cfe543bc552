"""A deadline for a request's head: a connection that does not finish sending one is answered 408 and closed.

Why: uvicorn arms a timer only between requests (``timeout_keep_alive``). A connection that is opened and
then says nothing, or sends its headers a byte at a time (slowloris), was held for ever: measured on
``lgsp serve``, an idle connection and one with half a request head were both still open after 40 s, so a
few thousand of them exhaust the process's file descriptors and lock every department out. A load
balancer in front has its own deadline (HAProxy ``timeout http-request``); ``lgsp serve`` terminating TLS
itself needs one too.

The deadline runs from the connection's start, and from the first byte of each later request, to the end
of that request's head (``LGSP_HEADER_TIMEOUT_SECONDS``, default 10 s; 0 turns it off). Bodies are not
covered: the pipeline reads them with its own size limits, and a slow upload of a large document is
legitimate.
"""

from __future__ import annotations

import asyncio

from lgsp.gateway.coalesce import CoalescingHttpToolsProtocol

_BODY = (b'{"type":"https://lgsp.dev/problems/request-timeout","title":"Request head not received in time",'
         b'"status":408,"detail":"the connection did not send a complete request head in time"}')
_ANSWER = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\nconnection: close\r\n"
           b"content-length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY)


class HeadDeadlineProtocol(CoalescingHttpToolsProtocol):
    """The gateway's HTTP protocol: one write per response, and a deadline for every request head."""

    #: Seconds a request head may take (0: no deadline). None: read from the settings at the first
    #: connection, in each worker process (uvicorn's workers are spawned: a value set in the parent is lost).
    head_timeout: float | None = None
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        timer = self._head_timer
        if timer is not None:
            timer.cancel()
            self._head_timer = None
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        timer = self._head_timer
        if timer is not None:
            timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        timeout = self.head_timeout
        if timeout is None:
            from lgsp.settings import Settings

            timeout = HeadDeadlineProtocol.head_timeout = Settings.load().header_timeout_seconds
        if timeout > 0:
            self._head_timer = self.loop.call_later(timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_head_deadline()  # a pipelined head behind a running call: the call's answer goes first
            return
        self.transport.write(_ANSWER)
        self.transport.close()


__all__ = ["HeadDeadlineProtocol"]
