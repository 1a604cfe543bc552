"""The delivery loop against a real HTTP receiver: retries, dead letters, message ids, the worker job."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from lgsp.delivery import claims
from lgsp.delivery.claims import Delivery
from lgsp.delivery.errors import Permanent, Retryable
from lgsp.delivery.handlers import HandlerRegistry, HttpHandler
from lgsp.delivery.models import OutboxMessage
from lgsp.delivery.outbox import NewMessage, accept
from lgsp.delivery.settings import DeliverySettings
from lgsp.delivery.worker import DeliveryWorker
from lgsp.testing.servers import RunningServer, start_server
from tests.delivery.receiver import Receiver

FAST = DeliverySettings(max_attempts=3, lease_seconds=30, backoff_base_seconds=0.01, backoff_max_seconds=0.05,
                        poll_seconds=0.05)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, RunningServer]]:
    rx = Receiver()
    server = start_server(rx.app)
    yield rx, server
    server.stop()


def row(engine: Engine, message_id: str) -> OutboxMessage:
    with Session(engine) as session:
        found = session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))
        assert found is not None
        return found


async def deliver_all(engine: Engine, handlers: HandlerRegistry, settings: DeliverySettings = FAST) -> None:
    worker = DeliveryWorker(engine, handlers, settings)
    try:
        await worker.run_until(lambda: claims.open_count(engine) == 0)
    finally:
        await handlers.aclose()


def http_message(url: str, body: bytes, **extra: str) -> NewMessage:
    return NewMessage("http", body, destination=url + "/inbox", **extra)


async def test_http_delivery_carries_message_id_and_survives_503s(
        engine: Engine, receiver: tuple[Receiver, RunningServer]) -> None:
    rx, server = receiver
    rx.script = [503, 503]
    message_id = accept(engine, http_message(server.url, b'{"n": 1}', client_id="c", idempotency_key="key-1"))
    await deliver_all(engine, HandlerRegistry({"http": HttpHandler()}))
    [receipt] = rx.receipts
    assert receipt.message_id == message_id.message_id and receipt.body == b'{"n": 1}'
    assert receipt.headers["idempotency-key"] == "key-1" and receipt.headers["x-lgsp-attempt"] == "3"
    stored = row(engine, message_id.message_id)
    assert stored.state == "delivered" and stored.attempts == 3
    assert stored.remote_id == f"R-{message_id.message_id[:8]}" and "HTTP 503" in (stored.last_error or "")


async def test_refusal_is_dead_at_once_and_exhausted_retries_too(
        engine: Engine, receiver: tuple[Receiver, RunningServer]) -> None:
    rx, server = receiver
    rx.script = [400, 503, 503, 503]
    refused = accept(engine, http_message(server.url, b"bad", ordering_key="K")).message_id
    exhausted = accept(engine, http_message(server.url, b"flaky", ordering_key="K")).message_id
    await deliver_all(engine, HandlerRegistry({"http": HttpHandler()}))
    dead = row(engine, refused)
    assert dead.state == "dead" and dead.attempts == 1 and "HTTP 400" in (dead.last_error or "")
    tired = row(engine, exhausted)
    assert tired.state == "dead" and tired.attempts == FAST.max_attempts
    assert "gave up after 3 attempts" in (tired.last_error or "")
    assert rx.receipts == []


async def test_unreachable_receiver_is_retried_not_lost(engine: Engine) -> None:
    rx = Receiver()
    server = start_server(rx.app)
    url = server.url
    server.stop()  # the receiver is down
    message_id = accept(engine, http_message(url, b"later")).message_id
    handlers = HandlerRegistry({"http": HttpHandler(timeout=2)})
    worker = DeliveryWorker(engine, handlers, DeliverySettings(max_attempts=50, backoff_base_seconds=0.01,
                                                                backoff_max_seconds=0.02))
    assert await worker.run_once() == 1
    waiting = row(engine, message_id)
    assert waiting.state == "pending" and "unreachable" in (waiting.last_error or "")
    port = int(url.rsplit(":", 1)[1])
    back = start_server(rx.app, port=port)  # it comes back on the same address
    try:
        await worker.run_until(lambda: claims.open_count(engine) == 0)
    finally:
        back.stop()
        await handlers.aclose()
    assert rx.received_ids() == [message_id]


async def test_handler_outcomes_and_fifo_through_the_worker(engine: Engine) -> None:
    seen: list[str] = []
    attempts: dict[str, int] = {}

    async def handler(delivery: Delivery) -> str | None:
        body = delivery.payload.decode()
        attempts[body] = attempts.get(body, 0) + 1
        if body == "first" and attempts[body] < 3:
            raise Retryable("not yet")
        if body == "crash" and attempts[body] < 2:
            raise RuntimeError("handler bug")
        if body == "never":
            raise Permanent("refused")
        seen.append(body)
        return f"remote-{body}"

    ids = {body: accept(engine, NewMessage("custom", body.encode(), ordering_key="same")).message_id
           for body in ("first", "crash", "never", "last")}
    await deliver_all(engine, HandlerRegistry({"custom": handler}))
    assert seen == ["first", "crash", "last"]  # one key: strictly in order, each after the previous finished
    assert row(engine, ids["crash"]).state == "delivered"
    assert "RuntimeError: handler bug" in (row(engine, ids["crash"]).last_error or "")
    assert row(engine, ids["never"]).state == "dead" and row(engine, ids["last"]).remote_id == "remote-last"


async def test_slow_handler_is_cut_off_and_retried(engine: Engine) -> None:
    calls = 0

    async def handler(delivery: Delivery) -> str | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(30)
        return None

    settings = DeliverySettings(timeout_seconds=1.5, backoff_base_seconds=0.01, backoff_max_seconds=0.02)
    message_id = accept(engine, NewMessage("slow", b"x")).message_id
    await deliver_all(engine, HandlerRegistry({"slow": handler}), settings)
    stored = row(engine, message_id)
    assert stored.state == "delivered" and stored.attempts == 2 and "no answer within" in (stored.last_error or "")


def test_worker_job_delivers_in_the_background(engine: Engine, store_url: str,
                                               receiver: tuple[Receiver, RunningServer],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from lgsp.delivery.jobs import DeliveryThread, delivery_jobs
    from lgsp.settings import Settings

    rx, server = receiver
    monkeypatch.delenv("LGSP_DVCQG_ADAPTER_URL", raising=False)
    monkeypatch.delenv("LGSP_DVCQG_STATUS_MAPPING", raising=False)
    [job] = delivery_jobs(engine, Settings.load(database_url=store_url))
    assert job.name == "deliveries"
    thread = DeliveryThread(engine, DeliverySettings(poll_seconds=0.05))
    message_id = accept(engine, http_message(server.url, b"bg")).message_id
    thread.ensure_running()
    thread.ensure_running()  # idempotent while alive
    try:
        import time

        deadline = time.monotonic() + 30
        while claims.open_count(engine) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        thread.stop()
    assert rx.received_ids() == [message_id]


def test_lgsp_worker_finds_the_delivery_job_by_entry_point() -> None:
    import tomllib
    from importlib import import_module
    from pathlib import Path

    from lgsp.delivery.jobs import delivery_jobs

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    target = project["project"]["entry-points"]["lgsp.worker_jobs"]["deliveries"]
    module, _, name = target.partition(":")
    assert getattr(import_module(module), name) is delivery_jobs
