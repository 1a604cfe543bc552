"""Appending audit entries with group commit.

Each exchange hands its entry to :class:`AuditWriter` and waits until the row is durable; the writer
collects the entries that arrive while the previous batch commits and writes them in one transaction.
So throughput is one commit per batch, not per request, yet no call is ever acknowledged before its
row is committed. Indexes are assigned inside the batch transaction under a lock (SQLite: BEGIN
IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so several gateway processes on one store
produce one gap-free sequence and one hash chain.

The same transaction integrates the batch's leaves into the Merkle tree (``audit_tree_nodes``), so
the lock holder is the log's single sequencer (DESIGN §6, as in Trillian): entries and tree nodes
commit or vanish together, and whichever process takes the lock next continues from what is
committed. Signing tree heads is *not* done here (it needs no lock and would slow every batch):
:class:`lgsp.audit.heads.HeadSigner` does it in the background, woken after each committed batch.
The batches themselves run in the writer's own thread on a kept connection
(:mod:`lgsp.audit.commit_thread`), so hashing, tree nodes and the commit never run on the event loop.
On SQLite, WAL checkpoints run in a thread of their own (:mod:`lgsp.store.checkpoint`), not inside a
batch's COMMIT.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import threading
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Engine, Table, insert, text

from lgsp.audit.bulk import insert_rows, raw_insert_tables
from lgsp.audit.canonical import writer_entry_bytes
from lgsp.audit.commit_thread import CommitThread
from lgsp.audit.fit import fit_to_columns
from lgsp.audit.merkle import extend_frontier
from lgsp.audit.models import AuditBody, AuditEntry
from lgsp.audit.tree_store import AuditTreeNode, SqlTreeStore, raw_frontier_at
from lgsp.settings import Settings
from lgsp.store import checkpoint
from lgsp.store.wait_bound import bound_waits
from lgsp.store.write_lock import queued_writer

GENESIS = bytes(32)
_NODES = cast(Table, AuditTreeNode.__table__)
_SEQUENCER_LOCK_ID = 0x6C677361  # "lgsa"


def chain(previous: bytes, leaf: bytes) -> bytes:
    return hashlib.sha256(previous + leaf).digest()


def write_batch(engine: Engine, entries: Sequence[dict[str, Any]],
                bodies: Sequence[tuple[bytes | None, bytes | None] | None] | None = None) -> list[int]:
    """Append ``entries`` (without index) in one transaction; returns their indexes."""
    with queued_writer(engine), engine.connect().execution_options(write_lock=True) as conn, conn.begin():
        return append_entries(conn, entries, bodies)


def append_entries(conn: Connection, entries: Sequence[dict[str, Any]],
                   bodies: Sequence[tuple[bytes | None, bytes | None] | None] | None = None) -> list[int]:
    """Append ``entries`` inside the caller's open transaction on ``conn``; returns their indexes.

    Lets a caller commit an audit entry atomically with its own rows (the outbox acceptance). The
    caller's transaction must hold the sequencer lock for as long as it stays open: on SQLite begin it
    with execution option ``write_lock=True`` (BEGIN IMMEDIATE); on PostgreSQL the advisory lock taken
    here lasts until that transaction ends, so keep it short.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SEQUENCER_LOCK_ID})
    last = conn.exec_driver_sql(_LAST_ENTRY_SQL).first()
    next_index = 0 if last is None else last.idx + 1
    chain_at_start = GENESIS if last is None else bytes(last.chain_hash)
    params, leaves, previous = _sequence(conn.dialect, entries, next_index, chain_at_start)
    insert_rows(conn, _ENTRY_TABLE.name, _ENTRY_COLUMNS, params)
    _integrate(conn, next_index, chain_at_start, leaves, previous)
    indexes = list(range(next_index, next_index + len(entries)))
    if bodies:
        kept = [{"idx": index, "request_body": b[0], "response_body": b[1]}
                for index, b in zip(indexes, bodies, strict=True) if b is not None]
        if kept:
            conn.execute(insert(AuditBody), kept)
    return indexes


def append_entries_raw(driver: Any, entries: Sequence[dict[str, Any]],
                       bodies: Sequence[tuple[bytes | None, bytes | None] | None] | None = None, *,
                       dialect: Dialect, frontier_key: str) -> list[int]:
    """:func:`append_entries` on the DBAPI connection ``driver``, in the transaction its caller began.

    For the writer's thread (:mod:`lgsp.audit.commit_thread`), whose batches are the gateway's
    per-request cost: the same statements, rows, lock and checks, but straight to the driver, so the
    batch pays none of SQLAlchemy's per-statement work (about 4/5 of a single-entry batch's Python).
    The caller has begun the transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: the driver's
    implicit one, whose advisory lock is taken here) and commits it. Driver errors come as they are.
    """
    paramstyle = dialect.paramstyle
    cursor = driver.cursor()
    try:
        if dialect.name == "postgresql":
            # one round trip for the implicit BEGIN, the lock and the read; the server runs them in order,
            # and the read's snapshot is taken after the lock is granted (READ COMMITTED: per statement)
            with driver.pipeline():
                cursor.execute(_ADVISORY_LOCK_SQL)
                cursor.execute(_LAST_ENTRY_SQL)
        else:
            cursor.execute(_LAST_ENTRY_SQL)
        last = cursor.fetchone()
        size = 0 if last is None else last[0] + 1
        chain_at_start = GENESIS if last is None else bytes(last[1])
        params, leaves, previous = _sequence(dialect, entries, size, chain_at_start)
        with _frontiers_lock:
            cached = _frontiers.get(frontier_key)
        if cached is not None and cached[0] == size and cached[1] == chain_at_start:
            frontier = dict(cached[2])
        else:
            frontier = raw_frontier_at(cursor, paramstyle, size)
        indexes = list(range(size, size + len(entries)))
        inserts = [(_ENTRY_TABLE.name, _ENTRY_COLUMNS, params),
                   (_NODES.name, _NODE_COLUMNS, extend_frontier(frontier, size, leaves))]
        if bodies:
            kept = [(index, b[0], b[1]) for index, b in zip(indexes, bodies, strict=True) if b is not None]
            inserts.append((_BODY_TABLE, _BODY_COLUMNS, kept))
        raw_insert_tables(driver, cursor, paramstyle, inserts)
    finally:
        cursor.close()
    with _frontiers_lock:
        _frontiers[frontier_key] = (size + len(leaves), previous, frontier)
    return indexes


def frontier_key(engine: Engine) -> str:
    """The key of ``engine``'s store in the frontier cache (its URL, rendered once per engine)."""
    key = _frontier_keys.get(engine)
    if key is None:
        key = _frontier_keys[engine] = engine.url.render_as_string(hide_password=False)
    return key


_frontier_keys: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
_ADVISORY_LOCK_SQL = f"SELECT pg_advisory_xact_lock({_SEQUENCER_LOCK_ID})"
_BODY_TABLE = cast(Table, AuditBody.__table__).name
_BODY_COLUMNS = ["idx", "request_body", "response_body"]


# The batch's cost decides the gateway's throughput, and per-row work in Python was most of it: the
# entries go to the driver directly (lgsp.audit.bulk), as rows built here in the table's column order.
_ENTRY_TABLE = cast(Table, AuditEntry.__table__)
_ENTRY_COLUMNS = [column.name for column in _ENTRY_TABLE.columns]
_LAST_ENTRY_SQL = f"SELECT idx, chain_hash FROM {_ENTRY_TABLE.name} ORDER BY idx DESC LIMIT 1"  # noqa: S608 - our names
_AT = {name: position for position, name in enumerate(_ENTRY_COLUMNS)}
_IDX, _TIME, _EXTRA, _LEAF, _CHAIN = _AT["idx"], _AT["time"], _AT["extra"], _AT["leaf_hash"], _AT["chain_hash"]
_time_binders: dict[str, Callable[[Any], Any] | None] = {}


def _time_binder(dialect: Dialect) -> Callable[[Any], Any] | None:
    """The ``time`` column's own bind conversion (SQLite stores a string; psycopg adapts datetimes)."""
    if dialect.name not in _time_binders:
        column = _ENTRY_TABLE.c.time
        _time_binders[dialect.name] = column.type.dialect_impl(dialect).bind_processor(dialect)
    return _time_binders[dialect.name]


def _sqlite_time_matches(to_time: Callable[[Any], Any]) -> bool:
    """Whether the ``time`` column's bind text is the canonical time with a space for T and no Z.

    Checked on two instants rather than assumed, so a change in SQLAlchemy's SQLite format falls back
    to its own conversion instead of storing a different text.
    """
    if _sqlite_time_ok:
        return _sqlite_time_ok[0]
    samples = (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    same = all(to_time(s) == s.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") for s in samples)
    _sqlite_time_ok.append(same)
    return same


_sqlite_time_ok: list[bool] = []


def _sequence(dialect: Dialect, entries: Sequence[dict[str, Any]], first: int,
              chain_before: bytes) -> tuple[list[tuple[Any, ...]], list[bytes], bytes]:
    """Index, leaf-hash and chain the entries: their driver-ready rows, their leaves, the last chain hash.

    Values pass to the driver as they are, except ``time`` (the column type's own conversion) and
    ``extra`` (JSON text, as SQLAlchemy's JSON type would serialise it; psycopg sends a ``str`` as
    untyped, so the server reads it as json). Both drivers take bytes for the hash columns.
    """
    to_time = _time_binder(dialect)
    sqlite_time = to_time is not None and _sqlite_time_matches(to_time)
    params: list[tuple[Any, ...]] = []
    leaves: list[bytes] = []
    previous = chain_before
    sha256, dumps, columns = hashlib.sha256, json.dumps, _ENTRY_COLUMNS
    for index, entry in enumerate(entries, first):
        entry = fit_to_columns(entry)  # a too-long value would fail the batch on PostgreSQL (lgsp.audit.fit)
        data, time = writer_entry_bytes(entry, index)  # the sequencer's index, whatever the dict holds
        leaf = sha256(b"\x00" + data).digest()  # = merkle.leaf_hash, inlined: this loop runs per entry
        previous = sha256(previous + leaf).digest()  # = chain()
        values = list(map(entry.get, columns))
        values[_IDX], values[_LEAF], values[_CHAIN] = index, leaf, previous
        extra = values[_EXTRA]
        values[_EXTRA] = "{}" if extra.__class__ is dict and not extra else dumps(extra)
        if to_time is not None:
            when = values[_TIME]
            # the column's own text from the canonical spelling when they agree (UTC): one format, not two
            values[_TIME] = (time[:10] + " " + time[11:-1] if sqlite_time and when.__class__ is datetime
                             and when.tzinfo is UTC else to_time(when))
        params.append(tuple(values))
        leaves.append(leaf)
    return params, leaves, previous


# Frontier (left siblings waiting for a partner, <= log2(n) hashes) per store, keyed by the tree size
# *and* the chain hash at that size: the chain hash commits to every earlier leaf, so a hit means the
# cached frontier belongs to exactly this log prefix even if a batch that filled the cache was rolled
# back and a different one took its place. A miss re-reads the frontier from the committed nodes, so
# a sequencer that takes over from a dead one continues from the store, never from memory.
_frontiers: dict[str, tuple[int, bytes, dict[int, bytes]]] = {}
_frontiers_lock = threading.Lock()
_NODE_COLUMNS = ["level", "idx", "hash"]


def _integrate(conn: Connection, size: int, chain_at_size: bytes, leaves: list[bytes], new_chain: bytes) -> None:
    """Add the batch's leaves to ``audit_tree_nodes`` in the caller's transaction (sequencer lock held)."""
    key = frontier_key(conn.engine)
    with _frontiers_lock:
        cached = _frontiers.get(key)
    if cached is not None and cached[0] == size and cached[1] == chain_at_size:
        frontier = dict(cached[2])
    else:
        frontier = SqlTreeStore(conn.engine).frontier_at(size, conn)
    rows = extend_frontier(frontier, size, leaves)
    # Straight to the driver (executemany or COPY): ~2 node rows per entry make this the batch's
    # largest insert, and SQLAlchemy's per-row parameter processing would cost more than the hashing.
    insert_rows(conn, _NODES.name, _NODE_COLUMNS, rows)
    with _frontiers_lock:
        _frontiers[key] = (size + len(leaves), new_chain, frontier)


def _prepare_connection(conn: Connection, *, sqlite_file: bool, wait_seconds: float) -> None:
    """The writer's kept connection: checkpoints off the commits (SQLite file), store waits bounded."""
    if sqlite_file:
        checkpoint.keep_checkpoints_off_commits(conn)
    bound_waits(conn, wait_seconds)


class AuditWriter:
    """Group-committing appender used by the gateway (one per process, bound to its event loop).

    The batches are written by :class:`lgsp.audit.commit_thread.CommitThread` (its own thread and kept
    connection); this class ties it to the head signer and keeps the gateway's interface.
    """

    def __init__(self, engine: Engine, max_batch: int = 512, settings: Settings | None = None) -> None:
        from lgsp.audit.heads import HeadService, HeadSigner

        self._engine = engine
        self._max_batch = max_batch
        # Settings come from the environment when the caller does not pass them (the runtime builds
        # the writer with the engine only); the database URL in them is ignored, the engine rules.
        self.settings = settings or Settings.load()
        #: Signed heads of this store (read by the audit API; signs with the configured log key).
        self.heads = HeadService(engine, self.settings)
        self._signer_task = HeadSigner(self.heads) if self.settings.audit_heads_enabled else None
        sqlite_file = checkpoint.applies_to(engine)
        self._checkpointer = checkpoint.WalCheckpointer(engine) if sqlite_file else None
        self.thread = CommitThread(engine, append_entries, max_batch,
                                   committed=self._signer_task.appended if self._signer_task else None,
                                   on_connect=functools.partial(_prepare_connection, sqlite_file=bool(sqlite_file),
                                                                wait_seconds=self.settings.audit_write_timeout_seconds),
                                   raw_write=functools.partial(append_entries_raw, dialect=engine.dialect,
                                                               frontier_key=frontier_key(engine)))
        self.heads.transactions = self.thread.run_in_transaction
        self._started = False

    async def start(self) -> None:
        self.thread.start()
        if self._checkpointer is not None:
            self._checkpointer.start()
        self._started = True
        if self._signer_task is not None:
            await self._signer_task.start()

    async def stop(self) -> None:
        if self._signer_task is not None:
            await self._signer_task.stop()
        await self.thread.stop()  # lets queued entries commit first
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)

    async def record(self, entry: dict[str, Any],
                     bodies: tuple[bytes | None, bytes | None] | None = None) -> int:
        """Queue ``entry`` and return its index once it is committed (raises if the store fails)."""
        if not self._started:
            raise RuntimeError("AuditWriter.start() was not called")
        return await self.thread.submit(entry, bodies)
