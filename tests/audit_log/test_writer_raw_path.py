"""The commit thread's batches on the DBAPI connection (``raw_write``): same transaction, same failure rules.

The gateway's writer runs every batch without jobs through :func:`lgsp.audit.writer.append_entries_raw`
with BEGIN / COMMIT sent on the driver connection, and batches carrying jobs (the head signer) through
SQLAlchemy. These tests hold the raw path to the rules of the other one (``test_writer_connection.py``):
a connection lost before COMMIT is retried once on a new connection, one lost at COMMIT is not, a failing
batch leaves nothing behind and fails only its callers, driver errors reach them as SQLAlchemy's classes,
and the frontier is re-read from the store when the cache does not match.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from lgsp.audit import writer as writer_module
from lgsp.audit.commit_thread import Bodies, CommitThread
from lgsp.audit.evidence import verify_store
from lgsp.audit.heads import HeadService
from lgsp.audit.tree_store import TreeStoreError
from lgsp.audit.writer import AuditWriter, append_entries, append_entries_raw, frontier_key

from .conftest import Store, entries
from .test_writer_connection import _settings, count, pg_engine, terminate  # noqa: F401 - pg_engine: fixture


def raw_writer(engine: Engine) -> Any:
    def write(driver: Any, batch: Sequence[dict[str, Any]], bodies: Sequence[Bodies] | None) -> list[int]:
        return append_entries_raw(driver, batch, bodies, dialect=engine.dialect, frontier_key=frontier_key(engine))
    return write


def sa_write_forbidden(conn: Connection, batch: Sequence[dict[str, Any]], bodies: Sequence[Bodies] | None) -> list[int]:
    raise AssertionError("a batch without jobs went through SQLAlchemy")


async def run_thread(engine: Engine, raw: Any, batches: list[list[dict[str, Any]]],
                     write: Any = sa_write_forbidden) -> tuple[list[Any], CommitThread]:
    thread = CommitThread(engine, write, max_batch=64, raw_write=raw)
    thread.start()
    try:
        out: list[Any] = []
        for batch in batches:
            out.append(await asyncio.gather(*(thread.submit(e, None) for e in batch), return_exceptions=True))
        return out, thread
    finally:
        await thread.stop()


def test_the_gateway_writer_takes_the_raw_path_and_jobs_take_sqlalchemy(store: Store, monkeypatch:
                                                                       pytest.MonkeyPatch) -> None:
    raw_calls: list[int] = []
    sa_calls: list[int] = []
    real_raw, real_sa = writer_module.append_entries_raw, writer_module.append_entries

    def spy_raw(*args: Any, **kwargs: Any) -> list[int]:
        raw_calls.append(len(args[1]))
        return real_raw(*args, **kwargs)

    def spy_sa(*args: Any, **kwargs: Any) -> list[int]:
        sa_calls.append(len(args[1]))
        return real_sa(*args, **kwargs)

    monkeypatch.setattr(writer_module, "append_entries_raw", spy_raw)
    monkeypatch.setattr(writer_module, "append_entries", spy_sa)

    async def scenario() -> tuple[list[int], int]:
        # no head signer: its jobs would make the batches they land in take SQLAlchemy at random
        writer = AuditWriter(store.engine, settings=dataclasses.replace(store.settings, audit_heads_enabled=False))
        await writer.start()
        try:
            got = list(await asyncio.gather(*(writer.record(e) for e in entries(5))))
            gate, inside = threading.Event(), threading.Event()
            seen: list[int] = []

            def job(conn: Connection) -> None:
                inside.set()
                gate.wait(10)
                seen.append(int(conn.exec_driver_sql("SELECT count(*) FROM audit_entries").scalar_one()))

            holding = asyncio.create_task(asyncio.to_thread(writer.thread.run_in_transaction, job))
            assert await asyncio.to_thread(inside.wait, 30)  # the thread is in the job's transaction
            waiting = [asyncio.ensure_future(writer.record(e)) for e in entries(3)]
            await asyncio.sleep(0)  # queued behind it
            second = asyncio.create_task(asyncio.to_thread(writer.thread.run_in_transaction, job))
            for _ in range(3000):  # until the second job is queued beside the entries (polling a state)
                if writer.thread._jobs:
                    break
                await asyncio.sleep(0.01)
            assert writer.thread._jobs and len(writer.thread._queue) == 3
            gate.set()
            got += await asyncio.gather(*waiting)
            await holding
            await second
            return got, seen[-1]
        finally:
            await writer.stop()

    indexes, seen = asyncio.run(scenario())
    assert indexes == list(range(8))
    assert sum(raw_calls) == 5 and sa_calls == [3]  # the batch beside the second job took SQLAlchemy
    assert seen >= 5
    assert verify_store(store.engine, store.heads).passed


def test_a_failing_raw_batch_fails_its_callers_leaves_nothing_and_keeps_the_connection(store: Store) -> None:
    write = raw_writer(store.engine)
    calls: list[int] = []

    def failing_once(driver: Any, batch: Sequence[dict[str, Any]], bodies: Sequence[Bodies] | None) -> list[int]:
        calls.append(len(batch))
        indexes = write(driver, batch, bodies)
        if len(calls) == 1:  # rows written, then a driver error: the transaction must roll back
            cursor = driver.cursor()
            cursor.execute("INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (0, 0, NULL)")
        return indexes

    results, thread = asyncio.run(run_thread(store.engine, failing_once, [entries(1), entries(3)]))
    assert len(results[0]) == 1 and isinstance(results[0][0], IntegrityError)  # SQLAlchemy's class
    assert results[1] == [0, 1, 2]  # the failed batch left no entry and no node: the chain starts at 0
    assert calls == [1, 3]  # not retried: the connection was fine
    assert thread.connects == 1
    assert count(store.engine) == 3
    assert verify_store(store.engine, store.heads).passed


def test_the_raw_path_rereads_the_frontier_when_another_writer_appended(store: Store) -> None:
    write = raw_writer(store.engine)

    def forgetful(driver: Any, batch: Sequence[dict[str, Any]], bodies: Sequence[Bodies] | None) -> list[int]:
        writer_module._frontiers.clear()  # as after another process's batch: the cache cannot match
        return write(driver, batch, bodies)

    results, _ = asyncio.run(run_thread(store.engine, forgetful, [entries(n) for n in (1, 2, 3, 5, 1, 9)]))
    assert [i for batch in results for i in batch] == list(range(21))
    assert verify_store(store.engine, store.heads).passed


def test_the_raw_path_refuses_a_tree_out_of_step_with_the_log(store: Store) -> None:
    write = raw_writer(store.engine)
    asyncio.run(run_thread(store.engine, write, [entries(4)]))
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_tree_nodes WHERE level = 0 AND idx = 3"))
    writer_module._frontiers.clear()
    results, _ = asyncio.run(run_thread(store.engine, write, [entries(1)]))
    assert isinstance(results[0][0], TreeStoreError)
    assert count(store.engine) == 4


def test_bodies_go_in_with_the_raw_batch(store: Store) -> None:
    async def scenario() -> list[int]:
        writer = AuditWriter(store.engine, settings=store.settings)
        await writer.start()
        try:
            rows = entries(3)
            return list(await asyncio.gather(writer.record(rows[0], (b"req", None)), writer.record(rows[1]),
                                             writer.record(rows[2], (None, b"resp"))))
        finally:
            await writer.stop()

    assert asyncio.run(scenario()) == [0, 1, 2]
    with store.engine.connect() as conn:
        kept = conn.execute(text("SELECT idx, request_body, response_body FROM audit_bodies ORDER BY idx")).all()
    assert [(r[0], r[1] and bytes(r[1]), r[2] and bytes(r[2])) for r in kept] == [(0, b"req", None), (2, None, b"resp")]


# --- PostgreSQL: the kept connection killed under the raw path -------------------------------------------


def backend_pid(driver: Any) -> int:
    return int(driver.info.backend_pid)


def test_raw_killed_mid_transaction_the_batch_is_retried_and_commits_once(pg_engine: Engine,  # noqa: F811
                                                                          tmp_path: Path) -> None:
    write = raw_writer(pg_engine)
    killed: list[int] = []

    def kill_first(driver: Any, batch: Sequence[dict[str, Any]], bodies: Sequence[Bodies] | None) -> list[int]:
        if not killed:  # first attempt: the connection dies inside the transaction, before the batch's rows
            driver.execute("SELECT 1")
            killed.append(backend_pid(driver))
            terminate(pg_engine, killed[0])
        return write(driver, batch, bodies)

    results, thread = asyncio.run(run_thread(pg_engine, kill_first, [entries(4), entries(2)]))
    assert results == [[0, 1, 2, 3], [4, 5]]
    assert thread.connects == 2
    assert count(pg_engine) == 6
    assert verify_store(pg_engine, HeadService(pg_engine, _settings(tmp_path))).passed


def test_raw_killed_while_idle_the_next_batch_is_retried(pg_engine: Engine, tmp_path: Path) -> None:  # noqa: F811
    write = raw_writer(pg_engine)
    pids: list[int] = []

    def remember(driver: Any, batch: Sequence[dict[str, Any]], bodies: Sequence[Bodies] | None) -> list[int]:
        pids.append(backend_pid(driver))
        return write(driver, batch, bodies)

    async def scenario() -> tuple[list[int], list[int], int]:
        thread = CommitThread(pg_engine, sa_write_forbidden, max_batch=64, raw_write=remember)
        thread.start()
        try:
            first = list(await asyncio.gather(*(thread.submit(e, None) for e in entries(3))))
            await asyncio.to_thread(terminate, pg_engine, pids[-1])
            second = list(await asyncio.gather(*(thread.submit(e, None) for e in entries(3))))
            return first, second, thread.connects
        finally:
            await thread.stop()

    first, second, connects = asyncio.run(scenario())
    assert first == [0, 1, 2] and second == [3, 4, 5] and connects == 2
    assert count(pg_engine) == 6
    assert verify_store(pg_engine, HeadService(pg_engine, _settings(tmp_path))).passed


def test_raw_killed_before_commit_no_caller_is_told_success(pg_engine: Engine, tmp_path: Path) -> None:  # noqa: F811
    write = raw_writer(pg_engine)
    calls: list[int] = []

    def kill_second(driver: Any, batch: Sequence[dict[str, Any]], bodies: Sequence[Bodies] | None) -> list[int]:
        calls.append(len(batch))
        indexes = write(driver, batch, bodies)
        if len(calls) == 2:  # rows written, COMMIT not yet sent: the server rolls them back
            terminate(pg_engine, backend_pid(driver))
        return indexes

    results, thread = asyncio.run(run_thread(pg_engine, kill_second, [entries(1), entries(3), entries(2)]))
    assert results[0] == [0]
    assert all(isinstance(r, OperationalError) for r in results[1]), results[1]  # COMMIT failed: not retried
    assert results[2] == [1, 2]  # the lost batch left nothing behind
    assert calls == [1, 3, 2] and thread.connects == 2
    assert count(pg_engine) == 3
    assert verify_store(pg_engine, HeadService(pg_engine, _settings(tmp_path))).passed


def test_a_failing_job_still_goes_through_sqlalchemy_beside_the_raw_path(store: Store) -> None:
    def bad(conn: Connection) -> None:
        conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")

    async def scenario() -> tuple[BaseException | None, list[int]]:
        thread = CommitThread(store.engine, append_entries, max_batch=64, raw_write=raw_writer(store.engine))
        thread.start()
        try:
            failing = await asyncio.gather(asyncio.to_thread(thread.run_in_transaction, bad), return_exceptions=True)
            indexes = list(await asyncio.gather(*(thread.submit(e, None) for e in entries(3))))
            return failing[0] if isinstance(failing[0], BaseException) else None, indexes
        finally:
            await thread.stop()

    error, indexes = asyncio.run(scenario())
    assert error is not None and "no_such_table" in str(error)
    assert indexes == [0, 1, 2]
    assert count(store.engine) == 3
