"""An httpx client whose every answer is bounded in size and in total time, shared by the suites.

The suites talk to a partner's endpoint, which may answer with a 3 GB body or drip one byte a second:
httpx's own timeouts apply to each read, so a drip never times out, and ``response.text`` holds the whole
body in memory. This client reads each answer through a cap and a deadline and turns a breach into an
``httpx`` error naming the request, so the check fails with one readable line. Independent of lgsp.

Limits (environment): ``CONFORMANCE_MAX_ANSWER_BYTES`` (default 128 MiB, above the largest edXML packet
lgsp accepts once base64-encoded) and ``CONFORMANCE_ANSWER_SECONDS`` (default 60, from the first byte
sent to the last byte received; waiting for the status line is bounded by the per-read timeout).
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

MAX_ANSWER_BYTES = int(os.environ.get("CONFORMANCE_MAX_ANSWER_BYTES") or 128 * 1024 * 1024)
ANSWER_SECONDS = float(os.environ.get("CONFORMANCE_ANSWER_SECONDS") or 60)
_RECOMPUTED = {"content-encoding", "content-length", "transfer-encoding"}


class AnswerTooLarge(httpx.HTTPError):
    """The endpoint's answer is longer than the suite reads."""


class BoundedClient(httpx.Client):
    """``httpx.Client`` that reads every answer within ``max_bytes`` (decoded) and ``seconds``."""

    def __init__(self, *, max_bytes: int | None = None, seconds: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_bytes = MAX_ANSWER_BYTES if max_bytes is None else max_bytes
        self.seconds = ANSWER_SECONDS if seconds is None else seconds

    def send(self, request: httpx.Request, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        deadline = time.monotonic() + self.seconds
        response = super().send(request, stream=True, **kwargs)
        body = bytearray()
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise AnswerTooLarge(f"the answer to {request.method} {request.url} is longer than "
                                         f"{self.max_bytes} bytes (CONFORMANCE_MAX_ANSWER_BYTES)")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(f"the answer to {request.method} {request.url} took longer than "
                                            f"{self.seconds:g} s (CONFORMANCE_ANSWER_SECONDS)", request=request)
        finally:
            response.close()
        # the body is decoded already: a new response without the headers that describe the wire form
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _RECOMPUTED]
        bounded = httpx.Response(response.status_code, headers=headers, content=bytes(body), request=request,
                                 extensions=response.extensions, history=response.history)
        return bounded
