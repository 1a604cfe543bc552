"""What `lgsp demo` hands each step: the `Tour` (console, gateway, caller, store) and the `DemoStep` contract.

An adapter shows itself in the demo by naming a `DemoStep` in `AdapterInfo.demo_step` (`lgsp.sdk.demo`
re-exports these names; an adapter imports them from there). The runner knows no adapter: it calls every
step's `prepare` before the demo registry is applied (start a simulator, return the registry template
variables it fills, e.g. the NGSP simulator's URL), then every step's `run` once the gateway serves and
the demo client holds a token, in `order` (ties by adapter name). Servers started with `Tour.start` are
stopped with everything else when the demo ends, in reverse order of starting.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from sqlalchemy import Engine

from lgsp.testing.servers import RunningServer, start_server


def http(method: str, url: str, *, headers: dict[str, str] | None = None, data: bytes | None = None) -> (
    tuple[int, dict[str, str], Any]
):
    """A tiny HTTP helper (standard library only) returning status, headers and decoded JSON/text."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own http URLs
            status, raw, hdrs = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, raw, hdrs = error.code, error.read(), dict(error.headers)
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return status, hdrs, body


@dataclass
class Tour:
    """The running demo as a step sees it.

    ``base_url`` is the gateway's (no trailing slash) and ``engine`` its store, both known from
    `prepare` on; ``auth`` holds the demo one-stop-shop client's headers (bearer token, user id) and is
    empty until the gateway serves, so `prepare` must not call the gateway.
    """

    console: Console
    base_url: str
    engine: Engine
    auth: dict[str, str] = field(default_factory=dict)
    #: Every server the demo started, in order; the runner stops them in reverse when the demo ends.
    started: list[RunningServer] = field(default_factory=list)

    def start(self, app: Any) -> RunningServer:
        """Serve ``app`` on a free 127.0.0.1 port until the demo ends."""
        server = start_server(app)
        self.started.append(server)
        return server

    def http(self, method: str, url: str, *, headers: dict[str, str] | None = None,
             data: bytes | None = None) -> tuple[int, dict[str, str], Any]:
        """:func:`http`: status, headers and decoded JSON (or text) of one request."""
        return http(method, url, headers=headers, data=data)

    def deliver(self, limit_seconds: float = 30) -> None:
        """Run the outbox worker (the handlers `lgsp worker` would load now) until nothing is left to deliver."""
        asyncio.run(_deliver(self.engine, limit_seconds))


async def _deliver(engine: Engine, limit_seconds: float) -> None:
    from lgsp.delivery.claims import open_count
    from lgsp.delivery.handlers import load_handlers
    from lgsp.delivery.settings import DeliverySettings
    from lgsp.delivery.worker import DeliveryWorker

    handlers = load_handlers(engine)
    try:
        worker = DeliveryWorker(engine, handlers, DeliverySettings(poll_seconds=0.05, backoff_base_seconds=0.05,
                                                                   backoff_max_seconds=0.5))
        await worker.run_until(lambda: open_count(engine) == 0, limit_seconds=limit_seconds)
    finally:
        await handlers.aclose()


@dataclass(frozen=True)
class DemoStep:
    """One adapter's part of the tour (what its `AdapterInfo.demo_step` names)."""

    #: The step itself, once the gateway serves: print a rule, call the gateway, show what happened.
    run: Callable[[Tour], None]
    #: Before the registry is applied: start a simulator; returns `lgsp/demo/registry.yaml` template variables.
    prepare: Callable[[Tour], Mapping[str, str]] | None = None
    #: Where in the tour (lower first; the core's own steps come after every adapter's).
    order: int = 100
