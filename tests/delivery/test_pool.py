"""The delivery pool (issue 17.4): a slow call holds one slot, leases live as long as their delivery, and a
clean stop hands unfinished deliveries straight back. Real store (SQLite and PostgreSQL), real handlers."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import Engine

from lgsp.delivery import claims
from lgsp.delivery.claims import Delivery
from lgsp.delivery.handlers import HandlerRegistry
from lgsp.delivery.outbox import NewMessage, accept
from lgsp.delivery.settings import DeliverySettings
from lgsp.delivery.worker import DeliveryWorker
from tests.delivery.test_worker import row


async def test_slow_delivery_holds_one_slot_not_the_batch(engine: Engine) -> None:
    done: dict[str, float] = {}

    async def handler(delivery: Delivery) -> str | None:
        body = delivery.payload.decode()
        await asyncio.sleep(3.0 if body == "slow" else 0.02)
        done[body] = time.monotonic()
        return None

    accept(engine, NewMessage("t", b"slow"))
    for i in range(24):
        accept(engine, NewMessage("t", f"fast-{i}".encode()))
    settings = DeliverySettings(batch_size=4, poll_seconds=0.05)
    await DeliveryWorker(engine, HandlerRegistry({"t": handler}), settings).run_until(
        lambda: claims.open_count(engine) == 0, 60)
    late = [body for body, at in done.items() if body != "slow" and at > done["slow"]]
    assert late == [], f"{len(late)} fast deliveries waited for the slow one"


async def test_long_delivery_keeps_its_lease_and_is_not_sent_twice(engine: Engine) -> None:
    calls: list[int] = []

    async def handler(delivery: Delivery) -> str | None:
        calls.append(delivery.attempt)
        await asyncio.sleep(4.0)  # well past the 1.5 s lease: only the heartbeat keeps it ours
        return "remote-1"

    message_id = accept(engine, NewMessage("long", b"x")).message_id
    settings = DeliverySettings(lease_seconds=1.5, poll_seconds=0.05)
    first = DeliveryWorker(engine, HandlerRegistry({"long": handler}), settings)
    second = DeliveryWorker(engine, HandlerRegistry({"long": handler}), settings)  # would steal an expired lease
    await asyncio.gather(first.run_until(lambda: claims.open_count(engine) == 0, 30),
                         second.run_until(lambda: claims.open_count(engine) == 0, 30))
    assert calls == [1], "the delivery was started again while it was still running"
    stored = row(engine, message_id)
    assert stored.state == "delivered" and stored.attempts == 1 and stored.remote_id == "remote-1"


async def test_clean_stop_releases_unfinished_deliveries_at_once(engine: Engine) -> None:
    started = asyncio.Event()

    async def stuck(delivery: Delivery) -> str | None:
        started.set()
        await asyncio.sleep(60)
        return None

    message_id = accept(engine, NewMessage("stuck", b"x")).message_id
    settings = DeliverySettings(lease_seconds=120, poll_seconds=0.05, shutdown_grace_seconds=0.2)
    stop = asyncio.Event()
    runner = asyncio.create_task(DeliveryWorker(engine, HandlerRegistry({"stuck": stuck}), settings).run_forever(stop))
    await asyncio.wait_for(started.wait(), 20)
    stop.set()
    await asyncio.wait_for(runner, 10)  # the grace period, not the 60 s call
    released = row(engine, message_id)
    assert released.state == "pending" and released.lease_until is None and released.lease_token is None
    due = released.next_attempt_at if released.next_attempt_at.tzinfo else released.next_attempt_at.replace(tzinfo=UTC)
    assert due <= datetime.now(UTC)  # another worker may take it now, not after the 120 s lease
    [again] = claims.claim(engine, ["stuck"], 1, 30)
    assert again.message_id == message_id and again.attempt == 2
