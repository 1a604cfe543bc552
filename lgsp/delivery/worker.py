"""The delivery loop: claim due messages, run their handlers concurrently, record the outcomes.

The store calls are blocking SQLAlchemy; they run in a thread so handlers on the event loop keep
moving. Every outcome is written before the next claim, so a SIGKILL at any point loses at most the
outcomes of the batch in hand — those rows stay ``in_flight`` until their lease ends and are delivered
again (at-least-once; receivers deduplicate by ``X-LGSP-Message-Id``).
"""

from __future__ import annotations

import asyncio
import random
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy import Engine

from lgsp.delivery import claims
from lgsp.delivery.backoff import retry_delay
from lgsp.delivery.claims import Delivery
from lgsp.delivery.errors import Permanent, Retryable
from lgsp.delivery.handlers import HandlerRegistry
from lgsp.delivery.settings import DeliverySettings

log = structlog.get_logger("lgsp.delivery")


class DeliveryWorker:
    """One worker; run as many as you like on PostgreSQL (they never claim the same row)."""

    def __init__(self, engine: Engine, handlers: HandlerRegistry, settings: DeliverySettings | None = None,
                 worker_id: str | None = None) -> None:
        self.engine = engine
        self.handlers = handlers
        self.settings = settings or DeliverySettings()
        self.worker_id = worker_id or uuid.uuid4().hex[:8]
        self._rng = random.Random()

    async def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many messages were attempted."""
        batch = await asyncio.to_thread(claims.claim, self.engine, list(self.handlers),
                                        self.settings.batch_size, self.settings.lease_seconds)
        outcomes = await asyncio.gather(*(self._deliver(delivery) for delivery in batch), return_exceptions=True)
        for delivery, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):  # recording the outcome failed: the lease will expire
                log.error("could not record a delivery outcome; it will be retried after its lease",
                          message_id=delivery.message_id, error=repr(outcome))
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
        """Keep delivering (sleeping through backoffs) until ``finished()``; raises TimeoutError otherwise."""
        deadline = time.monotonic() + limit_seconds
        while not await asyncio.to_thread(finished):
            if time.monotonic() > deadline:
                raise TimeoutError("deliveries did not finish in time")
            if not await self.run_once():
                await asyncio.sleep(min(0.05, self.settings.poll_seconds))

    async def run_forever(self, stop: asyncio.Event) -> None:
        """The production loop: deliver while work is due, poll otherwise, until ``stop`` is set."""
        log.info("delivery worker started", worker=self.worker_id, kinds=sorted(self.handlers))
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:  # the store is down: keep the process, try again shortly
                log.exception("delivery round failed", worker=self.worker_id)
                done = 0
            if not done:
                try:
                    await asyncio.wait_for(stop.wait(), self.settings.poll_seconds)
                except TimeoutError:
                    pass
        log.info("delivery worker stopped", worker=self.worker_id)

    async def _deliver(self, delivery: Delivery) -> None:
        handler = self.handlers[delivery.kind]
        try:
            remote_id = await asyncio.wait_for(_call(handler, delivery), self.settings.handler_timeout)
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
            owned = await asyncio.to_thread(claims.mark_delivered, self.engine, delivery, remote_id)
            log.info("delivered", message_id=delivery.message_id, kind=delivery.kind, attempt=delivery.attempt,
                     remote_id=remote_id, lease_lost=not owned)

    async def _failed(self, delivery: Delivery, error: str, *, dead: bool) -> None:
        exhausted = delivery.attempt >= self.settings.max_attempts
        if exhausted and not dead:
            error = f"{error} (gave up after {delivery.attempt} attempts)"
        delay = retry_delay(delivery.attempt, self.settings.backoff_base_seconds,
                            self.settings.backoff_max_seconds, self._rng)
        await asyncio.to_thread(claims.mark_failed, self.engine, delivery, error, dead=dead or exhausted,
                                retry_in=delay)
        log.warning("delivery failed", message_id=delivery.message_id, kind=delivery.kind,
                    attempt=delivery.attempt, dead=dead or exhausted, error=error,
                    retry_in=None if dead or exhausted else round(delay, 3))


async def _call(handler: Callable[[Delivery], Awaitable[str | None]], delivery: Delivery) -> str | None:
    return await handler(delivery)
