"""Delivering in this process until the outbox holds nothing open of some kinds (demos and tools).

``lgsp worker`` delivers for real; a demo that runs without one (``make demo`` on one machine) needs
the same delivery loop for a moment, with short back-offs, and its handlers closed afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine

from lgsp.delivery.handlers import Handler


async def deliver_until_done(engine: Engine, handlers: Mapping[str, Handler], limit_seconds: float) -> None:
    """Run a delivery worker with ``handlers`` until none of their kinds is open; TimeoutError after the limit.

    The worker is imported here, not at module level: the axis modules that re-export this through
    ``lgsp.sdk.documents`` are loaded by ``lgsp serve`` too, which never runs it.
    """
    from lgsp.delivery.claims import open_count
    from lgsp.delivery.handlers import HandlerRegistry
    from lgsp.delivery.settings import DeliverySettings
    from lgsp.delivery.worker import DeliveryWorker

    registry = HandlerRegistry(handlers)
    kinds = list(handlers)
    try:
        worker = DeliveryWorker(engine, registry, DeliverySettings(backoff_base_seconds=0.05,
                                                                   backoff_max_seconds=0.5, poll_seconds=0.05))
        await worker.run_until(lambda: open_count(engine, kinds) == 0, limit_seconds)
    finally:
        await registry.aclose()
