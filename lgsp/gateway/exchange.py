"""One request's journey through the gateway; every stage reads and fills it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lgsp.auth.tokens import ClientIdentity
from lgsp.problems import Problem
from lgsp.traffic.limiter import Ticket
from registry.snapshot import ServiceView


@dataclass
class IncomingRequest:
    method: str
    path: str  # the full gateway path as received (still percent-encoded), for the audit row
    sub_path: str  # the normalised path after the service id (lgsp.gateway.paths), as forwarded
    query: str
    headers: list[tuple[bytes, bytes]]
    content_length: int | None
    body: bytes | None = None  # set when buffered
    body_stream: AsyncIterator[bytes] | None = None  # set when streamed to the provider
    body_sha256: str | None = None
    #: Set when reading a streamed body failed (limit exceeded, client gone): the real cause, which the
    #: upstream client would otherwise report as a failed send.
    body_error: Problem | None = None
    #: The first value of each header, by lower-cased name: built once, so no stage rescans the list.
    named: dict[bytes, bytes] = field(default_factory=dict)


@dataclass
class UpstreamResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes | None  # None when streamed
    body_sha256: str | None = None


@dataclass
class Exchange:
    message_id: str
    correlation_id: str
    received_at: datetime
    started: float = field(default_factory=time.perf_counter)
    request: IncomingRequest | None = None
    client: ClientIdentity | None = None
    user_id: str | None = None
    service_id: str | None = None
    service: ServiceView | None = None
    response: UpstreamResponse | None = None
    problem: Problem | None = None
    signature_report_sha256: str | None = None
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: Set when the route has traffic limits: RateLimit headers for the response, slots to release.
    traffic: Ticket | None = None

    @property
    def status(self) -> int:
        if self.problem is not None:
            return self.problem.status
        return self.response.status if self.response is not None else 500


def latency_us(exchange: Exchange) -> int:
    """Microseconds since the exchange started (the audit entry's and the access log's latency)."""
    return int((time.perf_counter() - exchange.started) * 1_000_000)
