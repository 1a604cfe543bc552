"""Running the delivery loop inside ``lgsp worker`` (entry point ``lgsp.worker_jobs``).

The delivery loop needs a long-lived event loop (HTTP sessions, the DVCQG login), so it runs in a
:class:`~lgsp.jobs.LoopThread` that the job keeps alive. On SIGTERM the worker calls ``stop``:
deliveries in hand finish or have their leases released before the process exits 0. A process that
dies anyway leaves its messages to expire back to the queue.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from lgsp.delivery.handlers import load_handlers
from lgsp.delivery.settings import DeliverySettings
from lgsp.delivery.worker import DeliveryWorker
from lgsp.jobs import Job, LoopThread
from lgsp.settings import Settings


class DeliveryThread(LoopThread):
    """A :class:`DeliveryWorker` on its own event loop in a daemon thread."""

    def __init__(self, engine: Engine, settings: DeliverySettings | None = None) -> None:
        super().__init__("lgsp-delivery", self._deliver)
        self.engine = engine
        self.settings = settings or DeliverySettings.from_env()

    async def _deliver(self, stop: asyncio.Event) -> None:
        handlers = load_handlers(self.engine)
        try:
            await DeliveryWorker(self.engine, handlers, self.settings).run_forever(stop)
        finally:
            await handlers.aclose()


def delivery_jobs(engine: Engine, settings: Settings) -> list[Job]:
    """Factory for the ``lgsp.worker_jobs`` entry-point group."""
    return [DeliveryThread(engine).job("deliveries")]
