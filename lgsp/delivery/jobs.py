"""Running the delivery loop inside ``lgsp worker`` (entry point ``lgsp.worker_jobs``).

``lgsp worker`` calls each job's ``run`` from its main thread about once a second. The delivery loop
needs a long-lived event loop (HTTP sessions, the DVCQG login), so it lives in a background thread
and the job only makes sure that thread is alive, restarting it if it died. On SIGTERM the worker
calls ``stop``: deliveries in hand finish or have their leases released before the process exits 0.
The thread is a daemon, so a process that dies anyway leaves its messages to expire back to the queue.
"""

from __future__ import annotations

import asyncio
import threading

import structlog
from sqlalchemy import Engine

from lgsp.delivery.handlers import load_handlers
from lgsp.delivery.settings import DeliverySettings
from lgsp.delivery.worker import DeliveryWorker
from lgsp.jobs import Job
from lgsp.settings import Settings

log = structlog.get_logger("lgsp.delivery")


class DeliveryThread:
    """A :class:`DeliveryWorker` on its own event loop in a daemon thread."""

    def __init__(self, engine: Engine, settings: DeliverySettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or DeliverySettings.from_env()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stopping = False

    def ensure_running(self) -> None:
        if self._stopping or (self._thread is not None and self._thread.is_alive()):
            return
        if self._thread is not None:
            log.error("delivery thread died; restarting it")
        self._thread = threading.Thread(target=self._main, name="lgsp-delivery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Let deliveries in hand finish (or release them) and stop (``lgsp worker`` on SIGTERM)."""
        self._stopping = True
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stopping:
            return
        handlers = load_handlers(self.engine)
        try:
            await DeliveryWorker(self.engine, handlers, self.settings).run_forever(self._stop)
        finally:
            await handlers.aclose()


def delivery_jobs(engine: Engine, settings: Settings) -> list[Job]:
    """Factory for the ``lgsp.worker_jobs`` entry-point group."""
    thread = DeliveryThread(engine)
    return [Job("deliveries", 1.0, thread.ensure_running, stop=thread.stop)]
