"""The audit writer's own thread and connection: group commit without a trip through the event loop.

Why a dedicated thread rather than ``run_in_executor`` from a writer task: with the task, every batch
cost two loop wake-ups before any SQL ran (the callers' ``record`` woke the task, the task handed the
batch to a pool thread) and the thread sat idle until the loop got round to the task again. Here the
callers append to a deque and, if the thread is parked, wake it; the thread takes everything queued
(up to ``max_batch``) the moment its previous commit returns, so entries that arrive while a batch
commits form the next batch with no loop involvement. Results go back in one ``call_soon_threadsafe``
per batch, which resolves that batch's futures: a caller is answered only after its entry's commit.

Why one connection kept open: a pool checkout per batch costs a pre-ping round trip on PostgreSQL and
SQLAlchemy's checkout events, which was a good part of a small batch. A kept connection can die under
us (a database restart, ``pg_terminate_backend``, an idle timeout), so a batch that fails because the
connection broke *before its COMMIT was sent* is retried once on a fresh connection: the server rolls
back an open transaction whose connection is gone, so nothing of the first attempt can be committed.
A connection lost *during* COMMIT is not retried (the commit may or may not have happened; the callers
get the error and the entries may or may not be in the log, as with any store failure).

Batches without jobs (nearly all) run their transaction on the DBAPI connection itself (``raw_write``,
:meth:`CommitThread._attempt_raw`): the same BEGIN IMMEDIATE / advisory lock, statements and COMMIT, but
without SQLAlchemy's Connection and Transaction objects, events and per-statement result handling, which
were about four fifths of a single-entry batch's CPU (bench/audit_batch.py). SQLAlchemy keeps the
connection (pool checkout, invalidation) and runs the batches that carry jobs.

Other threads can also hand the writer a small *job* (:meth:`CommitThread.run_in_transaction`): the head
signer stores its signed heads this way. The job runs in the next batch's transaction, so a head costs
no commit (no fsync) of its own and, on SQLite, no fight with the batches for the write lock, whose
busy handler sleeps in 1-100 ms steps. A job that fails is reported to its caller and the batch is
written again without it: a head can never fail the callers' entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import structlog
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

__all__ = ["Bodies", "CommitThread", "RawWriteFn", "WriterNotRunning"]

log = structlog.get_logger("lgsp.audit")

Bodies = tuple[bytes | None, bytes | None] | None
#: (connection in an open transaction, entries, bodies or None) -> the entries' indexes
WriteFn = Callable[[Connection, Sequence[dict[str, Any]], Sequence[Bodies] | None], list[int]]
#: the same on the DBAPI connection (sqlite3 / psycopg) in a transaction the thread began
RawWriteFn = Callable[[Any, Sequence[dict[str, Any]], Sequence[Bodies] | None], list[int]]
_Item = tuple[dict[str, Any], Bodies, "asyncio.Future[int]"]
_Job = tuple[Callable[[Connection], Any], "Future[Any]"]


class WriterNotRunning(RuntimeError):
    """:meth:`CommitThread.run_in_transaction` was called before start or after stop."""


class _Lost(Exception):
    """The connection broke before COMMIT was sent: the batch may be retried on a new connection."""


class _JobFailed(Exception):
    """A job raised (its caller has been told); the transaction is rolled back and the batch redone."""


class CommitThread:
    """One thread, one connection, one batch at a time; bound to the event loop that started it."""

    def __init__(self, engine: Engine, write: WriteFn, max_batch: int,
                 committed: Callable[[int], None] | None = None, name: str = "lgsp-audit-writer",
                 on_connect: Callable[[Connection], None] | None = None,
                 raw_write: RawWriteFn | None = None) -> None:
        self._engine = engine
        self._raw_write = raw_write  # batches without jobs, straight on the driver (see _attempt_raw)
        self._sqlite = engine.dialect.name == "sqlite"
        self._dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        self._on_connect = on_connect  # run once on each new kept connection (e.g. SQLite's checkpoint pragma)
        self._write = write
        self._max_batch = max(1, max_batch)
        self._committed = committed
        self._queue: deque[_Item] = deque()
        self._jobs: deque[_Job] = deque()
        self._jobs_lock = threading.Lock()  # a job is queued only while the thread will still run it
        self._ended = False
        self._ready = threading.Event()
        self._stopping = False
        self._conn: Connection | None = None
        self._driver: Any = None  # self._conn's DBAPI connection
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        #: Batches committed and connections opened (read by tests and bench/audit.py's profile).
        self.batches = 0
        self.connects = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    def submit(self, entry: dict[str, Any], bodies: Bodies) -> asyncio.Future[int]:
        """Queue one entry (on the loop's thread); the future gets its index once it is committed."""
        if self._loop is None or self._stopping:
            raise RuntimeError("the audit writer is not running")
        future: asyncio.Future[int] = self._loop.create_future()
        self._queue.append((entry, bodies, future))
        if not self._ready.is_set():  # the flag read is cheap; set() takes a lock and notifies
            self._ready.set()
        return future

    def run_in_transaction(self, job: Callable[[Connection], Any]) -> Any:
        """Run ``job(conn)`` in the writer's next transaction and return its result once committed.

        For other threads (never the loop's: it would wait for a batch the loop has to feed, nor the
        writer's own). Raises RuntimeError if the writer is not running; the caller then does its
        own transaction (:class:`WriterNotRunning`).
        """
        future: Future[Any] = Future()
        with self._jobs_lock:
            if self._loop is None or self._ended or threading.current_thread() is self._thread:
                raise WriterNotRunning("the audit writer is not running")
            self._jobs.append((job, future))
        self._ready.set()
        return future.result()

    async def stop(self) -> None:
        """Commit what is queued, then end the thread and close its connection."""
        if self._loop is None:
            return
        waiting = [item[2] for item in self._queue]
        self._stopping = True
        self._ready.set()
        await asyncio.to_thread(self._thread.join)
        if waiting:  # resolved by callbacks the thread posted before it ended
            await asyncio.gather(*waiting, return_exceptions=True)

    # --- the thread ----------------------------------------------------------------------------

    def _main(self) -> None:
        try:
            while True:
                self._ready.wait()
                self._ready.clear()
                while self._queue or self._jobs:
                    count = min(self._max_batch, len(self._queue))
                    batch = [self._queue.popleft() for _ in range(count)]
                    jobs = [self._jobs.popleft() for _ in range(len(self._jobs))]
                    try:
                        indexes = self._commit([item[0] for item in batch], [item[1] for item in batch], jobs)
                    except BaseException as exc:  # every caller in the batch learns it
                        self._post(_fail, batch, exc)
                        for _, future in jobs:
                            if not future.done():
                                future.set_exception(exc)
                        if not isinstance(exc, Exception):
                            raise
                        continue
                    if batch:
                        self.batches += 1
                        self._post(self._resolve, batch, indexes)
                if self._stopping and not self._queue:
                    return
        finally:
            with self._jobs_lock:
                self._ended = True
                left = list(self._jobs)
            for _, future in left:
                future.set_exception(WriterNotRunning("the audit writer stopped"))
            self._close()

    def _commit(self, entries: list[dict[str, Any]], bodies: list[Bodies], jobs: list[_Job]) -> list[int]:
        """The batch (and jobs) committed, retried once on a new connection if the old one was lost."""
        kept = bodies if any(b is not None for b in bodies) else None
        retried = False
        while True:
            try:
                return self._attempt(entries, kept, jobs)
            except _Lost as lost:
                assert lost.__cause__ is not None
                if retried:
                    raise lost.__cause__ from None
                retried = True
                log.warning("audit writer connection lost before commit; retrying the batch on a new connection",
                            error=str(lost.__cause__))
            except _JobFailed:  # that job's caller has its error; the entries go on without it
                jobs = [job for job in jobs if not job[1].done()]

    def _attempt(self, entries: list[dict[str, Any]], bodies: list[Bodies] | None, jobs: list[_Job]) -> list[int]:
        """One transaction on the kept connection; raises :class:`_Lost` if it broke before COMMIT."""
        conn = self._connection()
        if self._raw_write is not None and not jobs:
            return self._attempt_raw(self._raw_write, entries, bodies)
        transaction = conn.begin()
        results: list[Any] = []
        try:
            for job, future in jobs:
                try:
                    results.append(job(conn))
                except Exception as exc:
                    if self._broken(conn):
                        raise
                    future.set_exception(exc)
                    raise _JobFailed() from exc
            indexes = self._write(conn, entries, bodies) if entries else []
        except _JobFailed:
            with contextlib.suppress(Exception):
                transaction.rollback()
            raise
        except Exception as exc:
            broken = self._broken(conn)
            with contextlib.suppress(Exception):
                transaction.rollback()
            if broken:
                self._close()
                raise _Lost() from exc
            raise
        try:
            transaction.commit()
        except Exception:
            if self._broken(conn):
                self._close()  # the next batch opens a new one; this one's fate is unknown: not retried
            raise
        for (_, future), result in zip(jobs, results, strict=True):
            future.set_result(result)
        return indexes

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self._engine.connect().execution_options(write_lock=True)
            self._conn = conn
            self.connects += 1
            if self._on_connect is not None:
                self._on_connect(conn)
            self._driver = conn.connection.driver_connection
        return self._conn

    def _attempt_raw(self, write: RawWriteFn, entries: list[dict[str, Any]], bodies: list[Bodies] | None) -> list[int]:
        """:meth:`_attempt` for a batch without jobs, with the transaction driven on the DBAPI connection.

        SQLAlchemy's begin/commit through Connection and Transaction objects, its events and per-statement
        handling were most of a single-entry batch's CPU. The transaction is the same as the other path's:
        SQLite ``BEGIN IMMEDIATE`` (the listener in ``lgsp.store.db`` would send the same for this
        ``write_lock`` connection), PostgreSQL the driver's implicit BEGIN with the advisory lock taken by
        ``write``; COMMIT under the connection's own ``synchronous`` setting. Failures are sorted as on the
        other path (lost before COMMIT: :class:`_Lost`; during COMMIT: not retried), and driver errors
        reach the callers as SQLAlchemy's exception classes, as from any statement.
        """
        assert self._conn is not None
        conn, driver = self._conn, self._driver
        try:
            if self._sqlite:
                driver.execute("BEGIN IMMEDIATE")
            indexes = write(driver, entries, bodies) if entries else []
        except Exception as exc:
            broken = self._broken(conn)
            try:
                driver.rollback()
            except Exception:  # a transaction left open would refuse the next BEGIN: the next batch reconnects
                self._close()
            error = self._translated(exc)
            if broken:
                self._close()
                raise _Lost() from error
            if error is exc:
                raise
            raise error from exc
        try:
            driver.commit()
        except Exception as exc:
            if self._broken(conn):
                self._close()  # the next batch opens a new one; this one's fate is unknown: not retried
            error = self._translated(exc)
            if error is exc:
                raise
            raise error from exc
        return indexes

    def _translated(self, exc: Exception) -> Exception:
        """A driver error as SQLAlchemy's class for it (IntegrityError, OperationalError, ...); others as they are."""
        if isinstance(exc, self._dbapi_error):
            return DBAPIError.instance(None, None, exc, self._dbapi_error, dialect=self._engine.dialect)
        return exc

    @staticmethod
    def _broken(conn: Connection) -> bool:
        """Whether ``conn``'s database connection is gone (SQLAlchemy's verdict or the driver's own flag)."""
        if conn.invalidated or conn.closed:
            return True
        try:
            driver = conn.connection.driver_connection
        except Exception:
            return True
        return bool(getattr(driver, "broken", False) or getattr(driver, "closed", False))

    def _close(self) -> None:
        conn, self._conn, self._driver = self._conn, None, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            if self._broken(conn):
                conn.invalidate()
        with contextlib.suppress(Exception):
            conn.close()

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(callback, *args)

    # --- back on the loop ----------------------------------------------------------------------

    def _resolve(self, batch: list[_Item], indexes: list[int]) -> None:
        for (_, _, future), index in zip(batch, indexes, strict=True):
            if not future.done():
                future.set_result(index)
        if self._committed is not None:
            self._committed(len(batch))


def _fail(batch: list[_Item], exc: BaseException) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(exc)
