"""Appending audit entries with group commit.

Each exchange hands its entry to :class:`AuditWriter` and waits until the row is durable; the writer
collects the entries that arrive while the previous batch commits and writes them in one transaction.
So throughput is one commit per batch, not per request, yet no call is ever acknowledged before its
row is committed. Indexes are assigned inside the batch transaction under a lock (SQLite: BEGIN
IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so several gateway processes on one store
produce one gap-free sequence and one hash chain.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text

from lgsp.audit.canonical import canonical_entry_bytes, pick_entry_fields
from lgsp.audit.merkle import leaf_hash
from lgsp.audit.models import AuditBody, AuditEntry

GENESIS = bytes(32)
_SEQUENCER_LOCK_ID = 0x6C677361  # "lgsa"


def chain(previous: bytes, leaf: bytes) -> bytes:
    return hashlib.sha256(previous + leaf).digest()


def write_batch(engine: Engine, entries: Sequence[dict[str, Any]],
                bodies: Sequence[tuple[bytes | None, bytes | None] | None] | None = None) -> list[int]:
    """Append ``entries`` (without index) in one transaction; returns their indexes."""
    with engine.connect().execution_options(write_lock=True) as conn, conn.begin():
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
    last = conn.execute(
        select(AuditEntry.idx, AuditEntry.chain_hash).order_by(AuditEntry.idx.desc()).limit(1)
    ).first()
    next_index = 0 if last is None else last.idx + 1
    previous = GENESIS if last is None else bytes(last.chain_hash)
    rows = []
    for offset, entry in enumerate(entries):
        row = dict(entry, idx=next_index + offset)
        leaf = leaf_hash(canonical_entry_bytes(pick_entry_fields(row)))
        previous = chain(previous, leaf)
        row["leaf_hash"], row["chain_hash"] = leaf, previous
        rows.append(row)
    conn.execute(insert(AuditEntry), rows)
    if bodies:
        kept = [{"idx": row["idx"], "request_body": b[0], "response_body": b[1]}
                for row, b in zip(rows, bodies, strict=True) if b is not None]
        if kept:
            conn.execute(insert(AuditBody), kept)
    return [row["idx"] for row in rows]


class AuditWriter:
    """Group-committing appender used by the gateway (one per process, bound to its event loop)."""

    def __init__(self, engine: Engine, max_batch: int = 512) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._pending: list[tuple[dict[str, Any], tuple[bytes | None, bytes | None] | None,
                                  asyncio.Future[int]]] = []
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="lgsp-audit")
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="lgsp-audit-writer")

    async def stop(self) -> None:
        if self._task is not None:
            if self._pending:  # let queued entries commit before shutting down
                await asyncio.gather(*(item[2] for item in self._pending), return_exceptions=True)
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)

    async def record(self, entry: dict[str, Any],
                     bodies: tuple[bytes | None, bytes | None] | None = None) -> int:
        """Queue ``entry`` and return its index once it is committed (raises if the store fails)."""
        if self._wakeup is None:
            raise RuntimeError("AuditWriter.start() was not called")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, bodies, future))
        self._wakeup.set()
        return await future

    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                entries = [item[0] for item in batch]
                bodies = [item[1] for item in batch]
                try:
                    indexes = await loop.run_in_executor(
                        self._executor, write_batch, self._engine, entries,
                        bodies if any(b is not None for b in bodies) else None)
                except Exception as exc:  # the store failed: every caller in the batch learns it
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, _, future), index in zip(batch, indexes, strict=True):
                    if not future.done():
                        future.set_result(index)
