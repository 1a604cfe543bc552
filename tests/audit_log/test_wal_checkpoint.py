"""On SQLite the audit writer's commits do not checkpoint the WAL; a thread of its own does (lgsp.store.checkpoint)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import Connection

from lgsp.audit.writer import AuditWriter
from lgsp.store import checkpoint
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from tests.audit_log.conftest import Store, entries, make_settings


def _autocheckpoint(conn: Connection) -> int:
    return int(conn.connection.driver_connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0])  # type: ignore[union-attr]


def test_the_writer_leaves_checkpoints_to_the_checkpoint_thread(store: Store) -> None:
    async def scenario() -> tuple[int | None, list[int], checkpoint.WalCheckpointer | None]:
        writer = AuditWriter(store.engine, settings=store.settings)
        await writer.start()
        try:
            indexes = list(await asyncio.gather(*(writer.record(e) for e in entries(50))))
            pragma = None
            if store.backend == "sqlite":  # the writer's own kept connection, in its thread
                pragma = await asyncio.to_thread(writer.thread.run_in_transaction, _autocheckpoint)
            checkpointer = writer._checkpointer
            for _ in range(200):  # up to 10 s for a checkpoint that copied every committed frame
                # (one that ran while the head signer still read an older snapshot may copy only part)
                last = checkpointer.last if checkpointer is not None else None
                if checkpointer is None or (last is not None and 0 < last[2] == last[1]):
                    break
                await asyncio.sleep(0.05)
            return pragma, indexes, checkpointer
        finally:
            await writer.stop()

    pragma, indexes, checkpointer = asyncio.run(scenario())
    assert sorted(indexes) == list(range(50))
    if store.backend == "postgresql":
        assert checkpointer is None
        return
    assert pragma == checkpoint.BACKSTOP_PAGES
    assert checkpointer is not None and checkpointer.last is not None
    busy, frames, copied = checkpointer.last
    assert busy == 0 and copied > 0 and copied == frames  # the committed frames are in the database file


def test_no_checkpoint_thread_for_an_in_memory_database(tmp_path: Path) -> None:
    engine = make_engine("sqlite://")
    upgrade(engine)
    try:
        assert not checkpoint.applies_to(engine)
        assert AuditWriter(engine, settings=make_settings("sqlite://", tmp_path))._checkpointer is None
    finally:
        engine.dispose()
