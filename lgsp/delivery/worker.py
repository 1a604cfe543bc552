"""The delivery loop: a bounded pool of running deliveries, refilled as soon as a slot frees.

Why a pool and not batches: with batches, one slow receiver (a call that ends in a timeout) held up
every other message of its batch until it ended. Here each delivery occupies one slot; when it ends,
the loop claims again at once, so a slow call costs one slot, not the throughput.

Leases: a claim lasts ``lease_seconds``; a heartbeat extends the leases of all running deliveries every
third of that, so a long delivery is never re-claimed by another worker while it still runs — only a
worker that died (no heartbeat) loses its messages, after one lease.

The store calls are blocking SQLAlchemy; they run in a thread so handlers on the event loop keep
moving — claims and outcomes in the process's group-commit thread (:mod:`lgsp.delivery.outcomes`), so
outcomes that end together share one transaction. Every outcome is written as soon as its delivery
ends, so a SIGKILL at any point loses at most the outcomes of the deliveries in hand — those rows
stay ``in_flight`` until their lease ends and are delivered again (at-least-once; receivers
deduplicate by ``X-LGSP-Message-Id``). On a clean stop
(SIGTERM) deliveries in hand get ``shutdown_grace_seconds`` to finish; the rest are cancelled and their
leases released, so another worker takes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from sqlalchemy import Engine

from lgsp.delivery import claims
from lgsp.delivery.backoff import retry_delay
from lgsp.delivery.claims import Delivery
from lgsp.delivery.errors import Permanent, Retryable
from lgsp.delivery.handlers import HandlerRegistry
from lgsp.delivery.outcomes import OutcomeWriter
from lgsp.delivery.settings import DeliverySettings
from lgsp.store.wait_bound import describe, is_store_wait

log = structlog.get_logger("lgsp.delivery")
RELEASED = "released: the worker stopped while delivering; due again at once"


class DeliveryWorker:
    """One worker; run as many as you like on PostgreSQL (they never claim the same row)."""

    def __init__(self, engine: Engine, handlers: HandlerRegistry, settings: DeliverySettings | None = None,
                 worker_id: str | None = None) -> None:
        self.engine = engine
        self.handlers = handlers
        self.settings = settings or DeliverySettings()
        self.worker_id = worker_id or uuid.uuid4().hex[:8]
        self._rng = random.Random()
        self._running: dict[asyncio.Task[None], Delivery] = {}
        self._outcomes = OutcomeWriter(engine)

    @property
    def running(self) -> int:
        """Deliveries in hand right now."""
        return len(self._running)

    async def run_once(self) -> int:
        """Claim up to a pool's worth and deliver them all; returns how many were attempted (tests, tools)."""
        batch = await self._claim(self.settings.batch_size)
        if batch:
            async with self._heartbeat():
                await asyncio.wait([self._start(delivery) for delivery in batch])
        return len(batch)

    async def run_until_idle(self, max_rounds: int = 10_000) -> int:
        """Deliver until nothing is due now (messages waiting for a retry time are left); returns the count."""
        total = 0
        for _ in range(max_rounds):
            done = await self.run_once()
            if not done:
                break
            total += done
        return total

    async def run_until(self, finished: Callable[[], bool], limit_seconds: float = 60.0) -> None:
        """Run the pool (sleeping through backoffs) until ``finished()``; raises TimeoutError otherwise."""
        stop = asyncio.Event()
        runner = asyncio.create_task(self.run_forever(stop, poll_seconds=min(0.05, self.settings.poll_seconds)))
        deadline = time.monotonic() + limit_seconds
        try:
            while not await asyncio.to_thread(finished):
                if time.monotonic() > deadline:
                    raise TimeoutError("deliveries did not finish in time")
                if runner.done():
                    runner.result()
                await asyncio.sleep(0.02)
        finally:
            stop.set()
            await runner

    async def run_forever(self, stop: asyncio.Event, poll_seconds: float | None = None) -> None:
        """The production loop: keep the pool full while work is due, poll otherwise, until ``stop`` is set."""
        poll = self.settings.poll_seconds if poll_seconds is None else poll_seconds
        size = self.settings.batch_size
        log.info("delivery worker started", worker=self.worker_id, kinds=sorted(self.handlers), pool=size)
        stopping = asyncio.create_task(stop.wait())
        try:
            async with self._heartbeat():
                while not stop.is_set():
                    free = size - len(self._running)
                    if free > 0:
                        try:
                            for delivery in await self._claim(free):
                                self._start(delivery)
                        except Exception as exc:  # the store is down or locked: keep the process, try again
                            if is_store_wait(exc):  # someone holds a lock (LOCK TABLE, a migration): not a fault
                                log.warning("store busy; claiming again shortly", worker=self.worker_id,
                                            error=describe(exc))
                            else:
                                log.exception("claiming deliveries failed", worker=self.worker_id)
                    full = len(self._running) >= size
                    # wake when a slot frees (it may also unblock the next message of its FIFO lane), on
                    # stop, or — with free slots — after a poll interval, for messages that became due
                    await asyncio.wait({stopping, *self._running}, timeout=None if full else poll,
                                       return_when=asyncio.FIRST_COMPLETED)
                await self._drain()
        finally:
            stopping.cancel()
        log.info("delivery worker stopped", worker=self.worker_id)

    async def _claim(self, limit: int) -> list[Delivery]:
        return await self._outcomes.claim(list(self.handlers), limit, self.settings.lease_seconds)

    def _start(self, delivery: Delivery) -> asyncio.Task[None]:
        task = asyncio.create_task(self._deliver(delivery), name=f"deliver-{delivery.message_id}")
        self._running[task] = delivery
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        delivery = self._running.pop(task, None)
        if task.cancelled() or delivery is None:
            return
        error = task.exception()
        if error is not None:  # recording the outcome failed: the lease will expire, it is delivered again
            log.error("could not record a delivery outcome; it will be retried after its lease",
                      message_id=delivery.message_id, error=repr(error))

    @contextlib.asynccontextmanager
    async def _heartbeat(self) -> AsyncIterator[None]:
        beat = asyncio.create_task(self._beat())
        try:
            yield
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            running = list(self._running.values())
            if not running:
                continue
            try:
                owned = await asyncio.to_thread(claims.extend_leases, self.engine, running,
                                                self.settings.lease_seconds)
            except Exception as exc:  # the store is down; the next beat tries again (a lease lasts three beats)
                if is_store_wait(exc):
                    log.warning("store busy; lease heartbeat again at the next beat", worker=self.worker_id,
                                error=describe(exc))
                else:
                    log.exception("lease heartbeat failed", worker=self.worker_id)
                continue
            for delivery in running:
                if delivery.seq not in owned:
                    log.warning("lease lost while delivering; its outcome will not be recorded",
                                message_id=delivery.message_id)

    async def _drain(self) -> None:
        """Clean stop: give deliveries in hand the grace period, then cancel (and release) the rest."""
        tasks = set(self._running)
        if not tasks:
            return
        log.info("stopping: waiting for deliveries in hand", worker=self.worker_id, running=len(tasks),
                 grace_seconds=self.settings.shutdown_grace_seconds)
        _, late = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_seconds)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)

    async def _deliver(self, delivery: Delivery) -> None:
        handler = self.handlers[delivery.kind]
        try:
            remote_id = await asyncio.wait_for(_call(handler, delivery), self.settings.handler_timeout)
        except asyncio.CancelledError:  # clean stop: hand the message back now, not after its lease
            released = await asyncio.to_thread(claims.release, self.engine, [delivery], RELEASED)
            log.info("delivery released", message_id=delivery.message_id, released=bool(released))
            raise
        except Permanent as exc:
            await self._failed(delivery, f"permanent: {exc}", dead=True)
        except Retryable as exc:
            await self._failed(delivery, f"retryable: {exc}", dead=False)
        except TimeoutError:
            await self._failed(delivery, f"retryable: no answer within {self.settings.handler_timeout:.0f} s",
                               dead=False)
        except Exception as exc:  # a bug or a surprise: retry, keep the trace for the operator
            trace = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            log.exception("delivery handler crashed", message_id=delivery.message_id, kind=delivery.kind)
            await self._failed(delivery, f"unexpected: {trace}", dead=False)
        else:
            owned = await self._recorded(delivery, lambda: self._outcomes.delivered(delivery, remote_id))
            log.info("delivered", message_id=delivery.message_id, kind=delivery.kind, attempt=delivery.attempt,
                     remote_id=remote_id, lease_lost=not owned)

    async def _failed(self, delivery: Delivery, error: str, *, dead: bool) -> None:
        exhausted = delivery.attempt >= self.settings.max_attempts
        if exhausted and not dead:
            error = f"{error} (gave up after {delivery.attempt} attempts)"
        delay = retry_delay(delivery.attempt, self.settings.backoff_base_seconds,
                            self.settings.backoff_max_seconds, self._rng)
        await self._recorded(delivery, lambda: self._outcomes.failed(delivery, error, dead=dead or exhausted,
                                                                     retry_in=delay))
        log.warning("delivery failed", message_id=delivery.message_id, kind=delivery.kind,
                    attempt=delivery.attempt, dead=dead or exhausted, error=error,
                    retry_in=None if dead or exhausted else round(delay, 3))


    async def _recorded(self, delivery: Delivery, write: Callable[[], Awaitable[bool]]) -> bool:
        """``write`` (an outcome), tried again while the store is busy, for up to half a lease.

        The delivery happened: an outcome given up on would send the message again after its lease. A lock held
        for a moment (``LOCK TABLE``, a migration) is waited out here; the heartbeat keeps the lease meanwhile."""
        deadline = time.monotonic() + self.settings.lease_seconds / 2
        while True:
            try:
                return await write()
            except Exception as exc:
                if not is_store_wait(exc) or time.monotonic() > deadline:
                    raise
                log.warning("store busy; recording the outcome again shortly", message_id=delivery.message_id,
                            error=describe(exc))
                await asyncio.sleep(min(1.0, self.settings.heartbeat_seconds))


async def _call(handler: Callable[[Delivery], Awaitable[str | None]], delivery: Delivery) -> str | None:
    return await handler(delivery)
