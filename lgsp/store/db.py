"""Engine and session factory for the store.

SQLite is the embedded default: WAL mode so readers never block the writer, a busy timeout so several
processes can share one file, and foreign keys on. PostgreSQL is used when the URL says so; a plain
``postgresql://`` URL is routed to the psycopg 3 driver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from lgsp.settings import SettingsError
from registry.base import for_writing


def normalise_url(url: str) -> str:
    """Map user-facing URLs to the drivers lgsp ships with."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the per-backend settings lgsp relies on.

    A URL naming a database whose driver lgsp does not ship, or an SQLite file whose folder cannot be made,
    raises SettingsError (the CLI prints it as one line); an unparsable URL raises SQLAlchemy's ArgumentError.
    """
    try:
        return _make_engine(normalise_url(url), **kwargs)
    except ModuleNotFoundError as exc:
        raise SettingsError(f"LGSP_DATABASE_URL: no driver for this kind of database is installed "
                            f"({exc.name}); lgsp ships SQLite and PostgreSQL (postgresql://)") from None
    except OSError as exc:
        raise SettingsError(f"LGSP_DATABASE_URL: the SQLite file's folder cannot be made "
                            f"({exc.strerror or exc}: {exc.filename})") from None


def _make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: every commit is fsynced, so an acknowledged exchange's audit row survives a power loss too
    # (group commit makes that one fsync per batch, not per request).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # A read-then-write transaction (the audit chain reads the last row, then appends) must take the
    # write lock at BEGIN so it cannot interleave with another process doing the same; such callers
    # ask with execution option ``write_lock=True``. Plain reads stay deferred so they never block.
    if connection.get_execution_options().get("write_lock"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


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
