"""The audit writer's kept connection: killed by the server, the writer carries on without losing or doubling.

The connection is killed with ``pg_terminate_backend`` from another session, as a database restart or an
administrator would; the writer must then (a) retry transparently a batch whose connection died before
its COMMIT was sent, (b) never answer success for a batch whose COMMIT failed, and (c) keep one gap-free
chain and tree either way. SQLite has no connection to lose; its part checks one connection serves
every batch.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select, text

from lgsp.audit.commit_thread import Bodies, CommitThread
from lgsp.audit.evidence import verify_store
from lgsp.audit.heads import HeadService
from lgsp.audit.models import AuditEntry
from lgsp.audit.writer import AuditWriter, append_entries
from lgsp.settings import Settings
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.postgres import create_database, drop_database

from .conftest import Store, entries, make_settings


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    url = create_database("lgsp_t_writerconn")
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        drop_database(url)


def terminate(engine: Engine, pid: int) -> None:
    """Kill one backend from a separate session, and wait until it is gone."""
    with engine.connect() as admin:
        assert admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar() is True
        admin.rollback()
        deadline = time.monotonic() + 60  # a loaded machine can take a while to reap a backend
        while time.monotonic() < deadline:
            alive = admin.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}).scalar()
            # pg_stat_activity is a snapshot taken once per transaction: without ending it, a backend
            # still there at the first look stays "alive" for good (what made this wait fail under load)
            admin.rollback()
            if not alive:
                return
            time.sleep(0.01)  # polling a state
    raise AssertionError(f"backend {pid} still alive after 60 s")


def backend_pid(conn: Connection) -> int:
    return int(conn.connection.driver_connection.info.backend_pid)  # type: ignore[union-attr]


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one())


async def record_all(writer: AuditWriter, batch: list[dict[str, Any]]) -> list[int]:
    return list(await asyncio.gather(*(writer.record(e) for e in batch)))


def test_killed_while_idle_the_next_batch_is_retried_on_a_new_connection(pg_engine: Engine, tmp_path: Path) -> None:
    async def scenario() -> tuple[list[int], list[int], int]:
        writer = AuditWriter(pg_engine, settings=_settings(tmp_path))
        await writer.start()
        try:
            first = await record_all(writer, entries(5))
            assert writer.thread._conn is not None
            terminate(pg_engine, backend_pid(writer.thread._conn))
            second = await record_all(writer, entries(5))
            return first, second, writer.thread.connects
        finally:
            await writer.stop()

    first, second, connects = asyncio.run(scenario())
    assert first == [0, 1, 2, 3, 4] and second == [5, 6, 7, 8, 9]
    assert connects == 2
    assert count(pg_engine) == 10
    assert verify_store(pg_engine, HeadService(pg_engine, _settings(tmp_path))).passed


def test_killed_mid_transaction_the_batch_commits_once(pg_engine: Engine, tmp_path: Path) -> None:
    killed: list[int] = []

    def write(conn: Connection, batch: Sequence[dict[str, Any]], bodies: Sequence[Bodies] | None) -> list[int]:
        if not killed:  # first attempt: the connection dies after BEGIN, before any of the batch is written
            conn.exec_driver_sql("SELECT 1")
            killed.append(backend_pid(conn))
            terminate(pg_engine, killed[0])
        return append_entries(conn, batch, bodies)

    indexes, connects = asyncio.run(_run_thread(pg_engine, write, entries(4)))
    assert indexes == [0, 1, 2, 3] and connects == 2
    assert count(pg_engine) == 4
    assert verify_store(pg_engine, HeadService(pg_engine, _settings(tmp_path))).passed


def test_killed_before_commit_no_caller_is_told_success_and_nothing_is_committed(pg_engine: Engine,
                                                                                 tmp_path: Path) -> None:
    calls: list[int] = []
    gate = threading.Event()
    taken = threading.Event()  # the writer thread has the first entry, alone

    def write(conn: Connection, batch: Sequence[dict[str, Any]], bodies: Sequence[Bodies] | None) -> list[int]:
        calls.append(len(batch))
        if len(calls) == 1:  # hold the thread so the next three entries queue up and form one batch
            taken.set()
            assert gate.wait(60), "the test never queued the batch to kill"
        indexes = append_entries(conn, batch, bodies)
        if len(calls) == 2:  # rows written, COMMIT not yet sent: the server rolls them back
            terminate(pg_engine, backend_pid(conn))
        return indexes

    async def scenario() -> tuple[int, list[Any], list[int], int]:
        thread = CommitThread(pg_engine, write, max_batch=64)
        thread.start()
        try:
            first = thread.submit(entries(1)[0], None)
            assert await asyncio.to_thread(taken.wait, 60), "the writer never took the first entry"
            doomed = [thread.submit(e, None) for e in entries(3)]
            gate.set()
            committed = await first
            failed = await asyncio.gather(*doomed, return_exceptions=True)
            after = list(await asyncio.gather(*(thread.submit(e, None) for e in entries(2))))
            return committed, list(failed), after, thread.connects
        finally:
            gate.set()
            await thread.stop()

    committed, failed, after, connects = asyncio.run(scenario())
    assert committed == 0
    assert all(isinstance(r, Exception) for r in failed), failed  # the COMMIT failed: not retried, not acknowledged
    assert calls[:2] == [1, 3] and sum(calls[2:]) == 2 and connects == 2
    assert after == [1, 2]  # the lost batch left no entry and no tree node behind
    assert count(pg_engine) == 3
    assert verify_store(pg_engine, HeadService(pg_engine, _settings(tmp_path))).passed


def test_one_kept_connection_serves_every_batch(store: Store) -> None:
    async def scenario() -> tuple[list[int], int, int]:
        writer = AuditWriter(store.engine, max_batch=8, settings=store.settings)
        await writer.start()
        try:
            got = []
            for _ in range(4):
                got += await record_all(writer, entries(10))
            return got, writer.thread.connects, writer.thread.batches
        finally:
            await writer.stop()

    indexes, connects, batches = asyncio.run(scenario())
    assert indexes == list(range(40))
    assert connects == 1 and batches >= 5  # max_batch=8 splits each burst of 10
    assert verify_store(store.engine, store.heads).passed


def test_stop_commits_what_is_queued(store: Store) -> None:
    async def scenario() -> list[int]:
        writer = AuditWriter(store.engine, settings=store.settings)
        await writer.start()
        pending = [asyncio.ensure_future(writer.record(e)) for e in entries(30)]
        await asyncio.sleep(0)  # every caller has queued its entry
        await writer.stop()
        return [p.result() for p in pending]

    assert sorted(asyncio.run(scenario())) == list(range(30))
    assert count(store.engine) == 30


async def _run_thread(engine: Engine, write: Any, batch: list[dict[str, Any]]) -> tuple[list[int], int]:
    thread = CommitThread(engine, write, max_batch=64)
    thread.start()
    try:
        got = list(await asyncio.gather(*(thread.submit(e, None) for e in batch)))
        return got, thread.connects
    finally:
        await thread.stop()


def _settings(tmp: Path) -> Settings:
    return make_settings("sqlite://", tmp)  # the URL is ignored: the writer and heads use the engine given


def test_a_failing_job_fails_only_its_caller_and_a_good_one_commits_with_the_batch(store: Store) -> None:
    def bad(conn: Connection) -> None:
        conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")

    def good(conn: Connection) -> int:
        return int(conn.exec_driver_sql("SELECT count(*) FROM audit_entries").scalar_one())

    async def scenario() -> tuple[BaseException | None, int, list[int]]:
        thread = CommitThread(store.engine, append_entries, max_batch=64)
        thread.start()
        try:
            gate = threading.Event()
            holding = asyncio.create_task(asyncio.to_thread(thread.run_in_transaction, lambda conn: gate.wait(10)))
            await asyncio.sleep(0.05)  # the writer thread is inside `holding`'s transaction
            failing = asyncio.create_task(asyncio.to_thread(thread.run_in_transaction, bad))
            await asyncio.sleep(0.05)  # queued: the bad job and the entries make one transaction
            waiting = [thread.submit(e, None) for e in entries(3)]
            gate.set()
            indexes = list(await asyncio.gather(*waiting))
            await holding
            error = await asyncio.gather(failing, return_exceptions=True)
            seen = await asyncio.to_thread(thread.run_in_transaction, good)
            return error[0] if isinstance(error[0], BaseException) else None, seen, indexes
        finally:
            await thread.stop()

    error, seen, indexes = asyncio.run(scenario())
    assert error is not None and "no_such_table" in str(error)
    assert indexes == [0, 1, 2] and seen == 3
    assert count(store.engine) == 3
