"""A bound on how long one kept connection's statements wait for the store.

Why: a write that waits has a caller waiting behind it. When another transaction holds the lock the audit
writer needs (an operator's ``LOCK TABLE``, a long migration, a second process on SQLite) or the disk
stalls, the gateway's callers hung with it: for ever on PostgreSQL, and for SQLite's 30 s busy timeout
twice over on SQLite, before a 500. With the bound the statement fails after ``seconds``, its transaction
rolls back (nothing of it is committed, so the log never says what the caller was not told), and the
gateway answers 503 ``audit-unavailable``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection


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
    driver.execute(f"SET statement_timeout = {millis}")
    driver.commit()
