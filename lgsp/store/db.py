"""Engine and session factory for the store.

SQLite is the embedded default: WAL mode so readers never block the writer, a busy timeout so several
processes can share one file, and foreign keys on. PostgreSQL is used when the URL says so; a plain
``postgresql://`` URL is routed to the psycopg 3 driver.

A serving process (gateway, delivery worker, document poller, ``lgsp worker``) makes its engine with
``lock_timeout_seconds`` (``LGSP_STORE_LOCK_TIMEOUT_SECONDS``): each of its statements then waits at most that
long for a lock someone else holds (an insider's ``LOCK TABLE``, a long migration, another SQLite writer),
and fails instead of hanging its caller (:func:`lgsp.store.wait_bound.is_store_wait` tells such a failure).
It costs no query per call: SQLite's busy timeout and PostgreSQL's ``lock_timeout`` are set when a connection
opens.
The CLI's engines keep waiting as long as it takes.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from lgsp.settings import SettingsError
from lgsp.store.wait_bound import UNBOUNDED_SQLITE_MS, bound_lock_waits, lock_wait_millis
from lgsp.store.write_lock import take_queued_millis
from registry.base import for_writing


def normalise_url(url: str) -> str:
    """Map user-facing URLs to the drivers lgsp ships with."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, lock_timeout_seconds: float = 0, **kwargs: Any) -> Engine:
    """Create an engine with the per-backend settings lgsp relies on.

    ``lock_timeout_seconds`` above 0 bounds every wait of its statements for a lock (see the module's doc).

    A URL naming a database whose driver lgsp does not ship, or an SQLite file whose folder cannot be made,
    raises SettingsError (the CLI prints it as one line); an unparsable URL raises SQLAlchemy's ArgumentError.
    """
    try:
        return _make_engine(normalise_url(url), lock_wait_millis(lock_timeout_seconds), **kwargs)
    except ModuleNotFoundError as exc:
        raise SettingsError(f"LGSP_DATABASE_URL: no driver for this kind of database is installed "
                            f"({exc.name}); lgsp ships SQLite and PostgreSQL (postgresql://)") from None
    except OSError as exc:
        raise SettingsError(f"LGSP_DATABASE_URL: the SQLite file's folder cannot be made "
                            f"({exc.strerror or exc}: {exc.filename})") from None


def _make_engine(url: str, lock_wait_ms: int, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        busy_ms = lock_wait_ms or UNBOUNDED_SQLITE_MS
        engine = create_engine(url, connect_args={"timeout": busy_ms / 1000, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, busy_ms=busy_ms))
        event.listen(engine, "begin", functools.partial(_sqlite_begin_immediate,
                                                        bound_ms=lock_wait_ms))
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if lock_wait_ms:
        event.listen(engine, "connect", functools.partial(bound_lock_waits, millis=lock_wait_ms))
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_ms: int = UNBOUNDED_SQLITE_MS) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: every commit is fsynced, so an acknowledged exchange's audit row survives a power loss too
    # (group commit makes that one fsync per batch, not per request).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.close()


def _sqlite_begin_immediate(connection: Any, *, bound_ms: int = 0) -> None:
    # A read-then-write transaction (the audit chain reads the last row, then appends) must take the
    # write lock at BEGIN so it cannot interleave with another process doing the same; such callers
    # ask with execution option ``write_lock=True``. Plain reads stay deferred so they never block.
    if not connection.get_execution_options().get("write_lock"):
        connection.exec_driver_sql("BEGIN")
        return
    queued = take_queued_millis() if bound_ms else 0.0
    if not queued:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    # it waited in lgsp's writer queue (lgsp.store.write_lock) already: that counts against its bound, or
    # writers queued behind a lock held outside lgsp would each wait a whole bound after the others
    driver = connection.connection.driver_connection
    driver.execute(f"PRAGMA busy_timeout={max(1, round(bound_ms - queued))}")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        driver.execute(f"PRAGMA busy_timeout={bound_ms}")


def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take SQLite's write lock at BEGIN (no-op on PostgreSQL).

    Use it for every transaction that writes. In WAL mode a deferred transaction that has read and then
    writes fails at once with "database is locked" if another connection committed in between (the busy
    timeout does not apply to that upgrade); taking the lock at BEGIN makes it wait its turn instead.
    """
    return for_writing(engine)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def dialect_insert(engine: Engine) -> Any:
    """The dialect's ``insert`` (with ``on_conflict_do_nothing`` / ``do_update``) for ``engine``'s backend.

    Imports only the dialect in use: SQLAlchemy's PostgreSQL dialect is a noticeable part of a SQLite
    gateway's start-up otherwise.
    """
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert
