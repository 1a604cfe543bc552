"""Holding a lock on the store from outside lgsp, as an insider with database access or a long migration does.

PostgreSQL: a second connection's ``LOCK TABLE ... IN ACCESS EXCLUSIVE MODE`` (reads and writes of the tables wait).
SQLite: a second connection holding ``BEGIN IMMEDIATE`` (the database's one write lock; it does not queue on
lgsp's side file, so lgsp's writers wait in SQLite's busy handler, as behind the ``sqlite3`` shell).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, func, select, text

from lgsp.problems import PROBLEM_CONTENT_TYPE

#: The bound the stalled stacks run with (LGSP_STORE_LOCK_TIMEOUT_SECONDS): small, so each test takes seconds.
WAIT = 0.5
#: The HTTP client's own timeout: far above WAIT; running into it is the defect (the old code hung for ever).
CLIENT_TIMEOUT = 20


@contextlib.contextmanager
def locked(engine: Engine, *tables: str) -> Iterator[None]:
    """Hold ``tables`` (PostgreSQL) or the whole database (SQLite) locked for the block."""
    if engine.dialect.name == "postgresql":
        holder = engine.connect()
        holder.begin()
        try:
            holder.execute(text(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE"))
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    database = engine.url.database
    assert database
    shell = sqlite3.connect(database, isolation_level=None)
    try:
        shell.execute("BEGIN IMMEDIATE")
        yield
    finally:
        shell.execute("ROLLBACK")
        shell.close()


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(model)) or 0)


def assert_store_unavailable(response: Any) -> None:
    """A 503 ``store-unavailable`` problem with a Retry-After: the caller knows to try again."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert response.json()["type"] == "https://lgsp.dev/problems/store-unavailable", response.text
    assert int(response.headers["retry-after"]) >= 1


def tracebacks(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Log entries carrying a traceback or naming a crash: a lock wait is not one."""
    return [e for e in logs if e.get("exc_info") or e["event"] in ("request failed", "exchange failed")]
