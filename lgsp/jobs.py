"""A worker job: a small periodic callable that `lgsp worker` runs (kept apart so it imports nothing heavy).

Some jobs need a long-lived event loop (HTTP connection pools, a login session), so :class:`LoopThread`
runs one coroutine in a daemon thread and the job only keeps that thread alive, restarting it if it died.
Being a daemon, a thread in a process that dies anyway leaves its work to the store's leases and queues.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("lgsp.worker")


@dataclass
class Job:
    name: str
    every_seconds: float
    run: Callable[[], object]
    #: Called once when the worker stops (SIGTERM): finish or release what the job holds.
    stop: Callable[[], object] | None = None


class LoopThread:
    """``main(stop)`` on its own event loop in a daemon thread; ``main`` returns once ``stop`` is set."""

    def __init__(self, name: str, main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        self.name = name
        self._main = main
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stopping = False

    def ensure_running(self) -> None:
        """Start the thread, or restart it if it died; nothing while it is alive or once stopping."""
        if self._stopping or (self._thread is not None and self._thread.is_alive()):
            return
        if self._thread is not None:
            log.error("background thread died; restarting it", thread=self.name)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask ``main`` to finish what it holds and wait for the thread (``lgsp worker`` on SIGTERM)."""
        self._stopping = True
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def job(self, name: str, every_seconds: float = 1.0) -> Job:
        """The worker job that keeps this thread alive and stops it on SIGTERM."""
        return Job(name, every_seconds, self.ensure_running, stop=self.stop)

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stopping:  # stop() came before the loop existed
            return
        await self._main(self._stop)
