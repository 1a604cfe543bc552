"""Bounds on how long the store's callers wait: the audit writer's statements, every serving process's lock waits.

Why: a write that waits has a caller waiting behind it. When another transaction holds the lock the audit
writer needs (an operator's ``LOCK TABLE``, a long migration, a second process on SQLite) or the disk
stalls, the gateway's callers hung with it: for ever on PostgreSQL, and for SQLite's 30 s busy timeout
twice over on SQLite, before a 500. With the bound the statement fails after ``seconds``, its transaction
rolls back (nothing of it is committed, so the log never says what the caller was not told), and the
gateway answers 503 ``audit-unavailable``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

#: SQLite's busy timeout where no bound is asked for (a CLI, a migration): long enough for any other
#: writer's transaction, as before the bound existed.
UNBOUNDED_SQLITE_MS = 30_000
#: SQLSTATEs of a PostgreSQL statement cut by a bound: lock_timeout (55P03), statement_timeout (57014).
_PG_BOUND_STATES = frozenset({"55P03", "57014"})


def bound_waits(conn: Connection, seconds: float) -> None:
    """Make every later statement on ``conn`` give up after ``seconds`` (0 or less: leave it unbounded).

    Set on the driver connection, outside any transaction: SQLite's busy timeout (how long a statement
    waits for another connection's lock), PostgreSQL's ``statement_timeout`` (which counts lock waits too),
    committed at once so that a rolled-back batch cannot take the setting back with it."""
    if seconds <= 0:
        return
    millis = max(1, round(seconds * 1000))
    driver: Any = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        driver.execute(f"PRAGMA busy_timeout={millis}")
        return
    # lock_timeout too: the writer's lock waits follow this bound, not the process-wide store bound
    driver.execute(f"SET statement_timeout = {millis}; SET lock_timeout = {millis}")
    driver.commit()


def lock_wait_millis(seconds: float) -> int:
    """``LGSP_STORE_LOCK_TIMEOUT_SECONDS`` as the drivers take it; 0 (no bound) for ``seconds`` <= 0."""
    return max(1, round(seconds * 1000)) if seconds > 0 else 0


def bound_lock_waits(dbapi_connection: Any, _record: Any = None, *, millis: int) -> None:
    """Every lock wait of a new PostgreSQL connection bounded to ``millis`` (its ``connect`` event: once per
    connection the pool opens, no query per call).

    ``lock_timeout``, not ``statement_timeout``: it cuts only a wait for a lock (a table someone locked, a row
    another transaction holds, an advisory lock), never a statement that is working, so a long read (an evidence
    bundle, ``lgsp audit verify`` run by a serving process) or a long write still runs to its end. A ``SET``, not
    libpq's ``options``: PgBouncer refuses a connection that sends that startup parameter."""
    dbapi_connection.execute(f"SET lock_timeout = {int(millis)}")
    dbapi_connection.commit()


def is_store_wait(exc: BaseException) -> bool:
    """Whether ``exc`` is a statement that gave up waiting for the store (a bound ran out, SQLite was busy).

    Such a failure says nothing about the request: its transaction was rolled back whole, and the same
    call succeeds once whoever holds the lock lets go. Anything else (a constraint, a bug) is not one."""
    while exc is not None:
        if isinstance(exc, DBAPIError):
            orig = exc.orig
            state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
            if state in _PG_BOUND_STATES:
                return True
            message = str(orig).lower()
            return type(orig).__name__ == "OperationalError" and ("database is locked" in message
                                                                   or "database table is locked" in message)
        exc = exc.__cause__  # type: ignore[assignment]
    return False


def describe(exc: BaseException) -> str:
    """One line naming the failure, for a log line without a traceback."""
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"


@contextlib.contextmanager
def unbounded_waits(conn: Connection) -> Iterator[None]:
    """Let this transaction of ``conn`` wait for locks as long as it takes (a migration behind another).

    PostgreSQL: ``SET LOCAL`` (ends with the transaction); SQLite: the busy timeout for the block, then back."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
        yield
        return
    driver: Any = conn.connection.driver_connection
    before = driver.execute("PRAGMA busy_timeout").fetchone()[0]
    driver.execute(f"PRAGMA busy_timeout={UNBOUNDED_SQLITE_MS}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA busy_timeout={int(before)}")
