"""Group commit of small write transactions: many callers' rows, one transaction, one fsync.

Why: on SQLite every write transaction takes the single write lock and ends with an fsync
(``synchronous=FULL``). With one transaction per accepted document, concurrent requests queued on the
lock (SQLite's busy handler sleeps up to 100 ms between tries) and the store's throughput was one fsync
per document. Here one committer thread per (process, engine) collects the units of work that arrive
while the previous batch commits and runs them in one write transaction, each unit in a SAVEPOINT of
its own: a unit that raises is rolled back alone and its caller gets the exception; the others commit.
A unit that gave up waiting for a lock (:func:`~lgsp.store.wait_bound.is_store_wait`) fails the units after
it in the batch with the same error, unrun: each would wait its whole bound again, one after another, and the
last caller of a batch of 64 would wait 64 bounds (the units before it commit as usual).

Durability is unchanged: :meth:`GroupCommitter.run` (and the future of :meth:`GroupCommitter.submit`)
return only after the batch's COMMIT succeeded, so an answer built on the result (a 202, an outcome
reported as written) still means "committed". If the COMMIT itself fails every caller of the batch gets
the error and nothing of the batch is kept. A process killed mid-batch answered none of its callers.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from lgsp.store.wait_bound import is_store_wait
from lgsp.store.write_lock import queued_writer

T = TypeVar("T")
Unit = Callable[[Connection], Any]


class GroupCommitter:
    """A daemon thread that commits queued units of work in batches (at most ``max_batch`` per transaction)."""

    def __init__(self, engine: Engine, max_batch: int = 64, name: str = "lgsp-group-commit") -> None:
        self.engine = engine
        self.max_batch = max(1, max_batch)
        self._queue: queue.SimpleQueue[tuple[Unit, Future[Any]]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, unit: Callable[[Connection], T]) -> Future[T]:
        """Queue ``unit`` (run inside the batch's transaction); the future resolves after the COMMIT."""
        future: Future[T] = Future()
        self._queue.put((unit, future))
        return future

    def run(self, unit: Callable[[Connection], T]) -> T:
        """:meth:`submit` and wait: returns the unit's result once it is committed, or raises its error."""
        return self.submit(unit).result()

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[tuple[Unit, Future[Any]]]) -> None:
        results: list[tuple[Future[Any], bool, Any]] = []
        try:
            # write_lock: BEGIN IMMEDIATE on SQLite (the audit chain reads, then appends)
            with queued_writer(self.engine), self.engine.connect().execution_options(write_lock=True) as conn, \
                    conn.begin():
                stalled: Exception | None = None
                for unit, future in batch:
                    if not future.set_running_or_notify_cancel():
                        continue
                    if stalled is not None:  # the store is locked: the rest of the batch is not made to wait again
                        results.append((future, False, stalled))
                        continue
                    try:
                        with conn.begin_nested():
                            results.append((future, True, unit(conn)))
                    except Exception as exc:  # this unit only: its savepoint is rolled back
                        results.append((future, False, exc))
                        if is_store_wait(exc):
                            stalled = exc
        except BaseException as exc:  # the transaction (BEGIN or COMMIT) failed: nobody's rows are kept
            for unit_future in (f for _, f in batch):
                if not unit_future.done():
                    unit_future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
            if not isinstance(exc, Exception):
                raise
            return
        for future, ok, value in results:
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


_committers: dict[int, GroupCommitter] = {}
_lock = threading.Lock()


def committer_for(engine: Engine, max_batch: int = 64) -> GroupCommitter:
    """This process's committer for ``engine`` (created on first use)."""
    with _lock:
        found = _committers.get(id(engine))
        if found is None or found.engine is not engine:
            found = _committers[id(engine)] = GroupCommitter(engine, max_batch)
        return found
