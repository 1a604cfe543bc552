"""Inserting a batch of audit rows (entries, tree nodes) in the fastest way each backend offers.

Why not SQLAlchemy's ``insert()``: a group-commit batch writes ~3 rows per entry (the entry and about
two tree nodes), and per-row statement handling was most of the audited append's cost. On SQLite the
driver's ``executemany`` already runs in C. On PostgreSQL psycopg's ``executemany`` still sends one
statement per row (pipelined, but with Python work for every row), so batches of more than a few rows
go through ``COPY ... FROM STDIN``: one statement, rows formatted by psycopg's C formatter, parsed by
the server as one stream. ``COPY`` joins the caller's open transaction like any statement, so the
rows still commit or vanish with the rest of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

__all__ = ["COPY_MIN_ROWS", "insert_rows", "raw_insert_rows", "raw_insert_tables"]

COPY_MIN_ROWS = 8
"""Below this, COPY's extra round trip (the server's CopyIn answer) costs more than it saves."""

_inserts: dict[tuple[str, str, tuple[str, ...]], str] = {}


def insert_rows(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` (tuples in ``columns`` order, values already in driver form) into ``table``.

    ``table`` and ``columns`` must be names from our own metadata (they are spliced into the SQL).
    Driver errors come back as SQLAlchemy's exception classes, as from any other statement.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        _copy(conn, table, columns, rows)
        return
    conn.exec_driver_sql(_insert_sql(conn.dialect.paramstyle, table, columns), list(rows))


def _insert_sql(paramstyle: str, table: str, columns: Sequence[str]) -> str:
    key = (paramstyle, table, tuple(columns))
    sql = _inserts.get(key)
    if sql is None:
        marker = "?" if paramstyle == "qmark" else "%s"
        sql = _inserts[key] = (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - our names
                               f"VALUES ({', '.join([marker] * len(columns))})")
    return sql


def raw_insert_rows(cursor: Any, paramstyle: str, table: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> None:
    """:func:`insert_rows` on a DBAPI cursor (``qmark``: sqlite3, ``format``: psycopg); driver errors as they are."""
    if not rows:
        return
    if paramstyle != "qmark" and len(rows) >= COPY_MIN_ROWS:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    cursor.executemany(_insert_sql(paramstyle, table, columns), rows)


def raw_insert_tables(driver: Any, cursor: Any, paramstyle: str,
                      inserts: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]]) -> None:
    """:func:`raw_insert_rows` for each ``(table, columns, rows)``, in one round trip where the driver allows.

    On PostgreSQL, when none needs COPY (which pipeline mode does not support), the INSERTs go in one
    psycopg pipeline: sent together, one sync at the end, so a single-entry batch's entry, node and body
    rows cost one round trip instead of one each. An error at the sync is an error of those INSERTs (the
    COMMIT is sent only afterwards), so the caller sorts it as before.
    """
    if paramstyle != "qmark" and all(len(rows) < COPY_MIN_ROWS for _, _, rows in inserts):
        with driver.pipeline():
            for table, columns, rows in inserts:
                if rows:
                    cursor.executemany(_insert_sql(paramstyle, table, columns), rows)
        return
    for table, columns, rows in inserts:
        raw_insert_rows(cursor, paramstyle, table, columns, rows)


def _copy(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    import psycopg  # only reached on PostgreSQL, whose driver lgsp always installs

    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    driver = conn.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:
        # The same exception classes SQLAlchemy raises for its own statements (IntegrityError,
        # OperationalError, ...), so callers need not know that this batch went through COPY. A broken
        # connection is invalidated when the caller's transaction rolls back, as usual.
        raise DBAPIError.instance(sql, None, exc, psycopg.Error, dialect=conn.dialect) from exc
