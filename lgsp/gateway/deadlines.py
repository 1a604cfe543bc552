"""Deadlines for a request's head and body: a client that stalls is answered 408 and its connection closed.

Why: uvicorn arms a timer only between requests (``timeout_keep_alive``). A connection that is opened and
then says nothing, or sends its headers a byte at a time (slowloris), was held for ever: measured on
``lgsp serve``, an idle connection and one with half a request head were both still open after 40 s, so a
few thousand of them exhaust the process's file descriptors and lock every department out. A body sent a
byte a second (slow POST, "R.U.D.Y.") did the same after a complete head: ``POST /oauth/token`` with
``Content-Length: 1000`` and one byte a second was still open after 30 s, and would have been for 17
minutes. A load balancer in front has its own deadlines (HAProxy ``timeout http-request``); ``lgsp serve``
terminating TLS itself needs them too.

The head deadline runs from the connection's start, and from the first byte of each later request, to the
end of that request's head (``LGSP_HEADER_TIMEOUT_SECONDS``, default 10 s; 0 turns it off).

The body deadline is a minimum rate, as Apache's ``mod_reqtimeout`` (``body=20,MinRate=500``) has it,
because a large document may legitimately take minutes: in every window of ``LGSP_BODY_TIMEOUT_SECONDS``
(default 20 s) during which lgsp waits for the client, at least ``LGSP_BODY_MIN_RATE`` bytes a second
(default 500, i.e. 10 KB a window) must arrive, or the body must end. A window in which the waiting was
lgsp's, not the client's, does not count: reading paused because the provider is slow to take a streamed
body (flow control), the app not yet having taken what arrived, or a client waiting for ``100 Continue``.
0 turns it off. The timer is armed only when a body is still incomplete after a read, so a small request
whose body comes with its head costs nothing.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.flow_control import FlowControl

from lgsp.gateway.coalesce import CoalescingHttpToolsProtocol

#: Scope key set on a request whose body the deadline cut off, so the pipeline audits a 408, not a departure.
BODY_TIMED_OUT = "lgsp.body_timed_out"


#: Largest request head (request line and headers) accepted: httptools sets none, so a client could send
#: headers for the whole head deadline (hundreds of MB on a fast link). 64 KiB is h11's and nginx's order.
MAX_HEAD_BYTES = 64 * 1024


def _answer(status: int, reason: str, kind: str, title: str, detail: str) -> bytes:
    """A whole problem+json response, sent by the protocol itself before closing the connection."""
    body = json.dumps({"type": f"https://lgsp.dev/problems/{kind}", "title": title, "status": status,
                       "detail": detail}, separators=(",", ":")).encode()
    return (f"HTTP/1.1 {status} {reason}\r\n".encode() + b"content-type: application/problem+json\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


_HEAD_408 = _answer(408, "Request Timeout", "request-timeout", "Request head not received in time",
                    "the connection did not send a complete request head in time")
_BODY_408 = _answer(408, "Request Timeout", "request-timeout", "Request body not received in time",
                    "the request body arrived too slowly (see LGSP_BODY_MIN_RATE)")
_HEAD_431 = _answer(431, "Request Header Fields Too Large", "headers-too-large", "Request head too large",
                    f"the request line and headers exceed {MAX_HEAD_BYTES} bytes")
_MALFORMED_400 = _answer(400, "Bad Request", "bad-request", "Bad request",
                         "the request is not valid HTTP/1.1 (framing, header syntax or an ambiguous length)")


class _PauseNotingFlow(FlowControl):
    """uvicorn's flow control, remembering that reading was paused since the body deadline last looked:
    a window in which lgsp stopped reading is not the client's fault."""

    paused_since_check = False

    def pause_reading(self) -> None:
        self.paused_since_check = True
        super().pause_reading()


class RequestDeadlineProtocol(CoalescingHttpToolsProtocol):
    """The gateway's HTTP protocol: one write per response, a deadline for every request head, a minimum
    rate for every request body."""

    #: Seconds a request head may take (0: no deadline). None: read from the settings at the first
    #: connection, in each worker process (uvicorn's workers are spawned: a value set in the parent is lost).
    head_timeout: float | None = None
    #: The body deadline's window in seconds (0: no deadline) and the bytes a second it must average.
    body_window: float | None = None
    body_min_rate: int = 500
    _head_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None
    _in_head = True  # the bytes arriving are (or begin) a request head (counted against MAX_HEAD_BYTES)
    _head_read = 0  # bytes read while a head was incomplete (a head streamed for ever)
    _head_bytes = 0  # bytes of the head's header lines parsed so far (a head that came in one read)
    _body_pending = False  # a request head was read and its body has not ended
    _body_received = 0  # body bytes since the body deadline's window began

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow = _PauseNotingFlow(transport)
        if self.head_timeout is None:
            self._load_settings()
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_read += len(data)
        super().data_received(data)
        if self._in_head and self._head_read > MAX_HEAD_BYTES and not self.transport.is_closing():
            if self.cycle is None or self.cycle.response_complete:  # (never in the middle of an answer)
                self.transport.write(_HEAD_431)
            self.transport.close()
            return
        if self._body_pending and self._body_timer is None and self.body_window:
            self._body_timer = self.loop.call_later(self.body_window, self._body_deadline_reached)

    def send_400_response(self, msg: str) -> None:
        """uvicorn answers unparsable requests (smuggling attempts among them) in text/plain; lgsp's errors
        are problem+json, these too. (A head found too large by :meth:`on_header` ends up here as well.)"""
        self.transport.write(_HEAD_431 if self._head_bytes > MAX_HEAD_BYTES else _MALFORMED_400)
        self.transport.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        # A head that arrived whole in one read is never seen "in progress" by data_received: count it here.
        # Raising stops the parser; uvicorn then answers through send_400_response, which sends the 431.
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEAD_BYTES:
            raise ValueError("request head too large")
        super().on_header(name, value)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._arm_head_deadline()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = self._head_read = 0
        timer = self._head_timer
        if timer is not None:
            timer.cancel()
            self._head_timer = None
        super().on_headers_complete()
        # (an upgrade request returns above without a new cycle: it has no body for this protocol to time)
        self._body_pending = self.cycle is not None and self.cycle.scope is self.scope
        self._body_received = 0

    def on_body(self, body: bytes) -> None:
        self._body_received += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._body_pending = False
        self._in_head = True  # what comes next on the connection is the next request's head
        timer = self._body_timer
        if timer is not None:
            timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None
        self._body_pending = False
        super().connection_lost(exc)

    @classmethod
    def _load_settings(cls) -> None:
        from lgsp.settings import Settings

        settings = Settings.load()
        # (a negative value means "off" as 0 does: a timer of -3 s would fire at once, for ever)
        RequestDeadlineProtocol.body_window = max(0.0, settings.body_timeout_seconds)
        RequestDeadlineProtocol.body_min_rate = max(0, settings.body_min_rate)
        RequestDeadlineProtocol.head_timeout = max(0.0, settings.header_timeout_seconds)

    def _arm_head_deadline(self) -> None:
        timeout = self.head_timeout
        if timeout:
            self._head_timer = self.loop.call_later(timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_head_deadline()  # a pipelined head behind a running call: the call's answer goes first
            return
        self.transport.write(_HEAD_408)
        self.transport.close()

    def _body_deadline_reached(self) -> None:
        """End of a window: time out a client that sent too little while lgsp was waiting for it."""
        self._body_timer = None
        if not self._body_pending or self.transport.is_closing():
            return
        flow = self.flow
        cycle = self.cycle
        assert isinstance(flow, _PauseNotingFlow)
        # (bytes the app has not taken count as lgsp's delay only while it may still take them: after its
        # answer it never will, and a byte that came before the answer must not shelter the rest)
        waited_on_lgsp = (flow.read_paused or flow.paused_since_check or cycle.waiting_for_100_continue
                          or (bool(cycle.body) and not cycle.response_complete))
        flow.paused_since_check = False
        received, self._body_received = self._body_received, 0
        window = self.body_window or 0.0
        if waited_on_lgsp or received >= self.body_min_rate * window:
            self._body_timer = self.loop.call_later(window, self._body_deadline_reached)
            return
        if not cycle.response_started:
            self.transport.write(_BODY_408)
        # The app, still reading, sees a disconnect (its body read fails as "client disconnected"), and
        # anything it sends after this is dropped: the connection is gone.
        cycle.scope[BODY_TIMED_OUT] = True  # type: ignore[literal-required]
        cycle.disconnected = True
        cycle.message_event.set()
        self._body_pending = False
        self.transport.close()


__all__ = ["BODY_TIMED_OUT", "RequestDeadlineProtocol"]
