"""The writer integrates every batch into the Merkle tree; heads are signed when due, by one key file."""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, text

from lgsp.audit.bundle import verify_bundle
from lgsp.audit.evidence import verify_store
from lgsp.audit.merkle import root_hash, verify_inclusion
from lgsp.audit.models import AuditEntry, AuditHead
from lgsp.audit.tree_store import MemoryTreeStore
from lgsp.audit.writer import AuditWriter, append_entries, write_batch
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.servers import serve_in_thread

from .conftest import Store, entries, make_settings


def stored_leaves(store: Store) -> list[bytes]:
    with store.engine.connect() as conn:
        return [bytes(h) for h in conn.execute(select(AuditEntry.leaf_hash).order_by(AuditEntry.idx)).scalars()]


def test_each_batch_extends_the_tree_in_the_same_transaction(store: Store) -> None:
    for size in (1, 2, 5, 64, 33):
        store.write(size)
    leaves = stored_leaves(store)
    assert store.heads.tree.size() == len(leaves) == 105
    assert root_hash(store.heads.tree, 105) == root_hash(MemoryTreeStore(leaves), 105)
    assert root_hash(store.heads.tree, 37) == root_hash(MemoryTreeStore(leaves[:37]), 37)  # past roots too
    # a batch that rolls back leaves neither entries nor nodes behind
    with pytest.raises(RuntimeError), store.engine.connect().execution_options(write_lock=True) as conn:
        with conn.begin():
            append_entries(conn, entries(3))
            raise RuntimeError("caller's transaction fails")
    assert store.heads.tree.size() == 105
    store.write(2)
    assert verify_store(store.engine, store.heads).passed


def test_a_tree_out_of_step_with_the_log_is_refused_not_corrupted(store: Store) -> None:
    store.write(4)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_tree_nodes WHERE level = 0 AND idx = 3"))
    other = make_engine(store.url)  # a fresh process: no cached frontier to hide the hole
    try:
        import lgsp.audit.writer as writer

        writer._frontiers.clear()
        with pytest.raises(ValueError, match="out of step"):
            write_batch(other, entries(1))
    finally:
        other.dispose()


def test_concurrent_writers_on_separate_engines_form_one_tree(store: Store) -> None:
    engines = [make_engine(store.url) for _ in range(4)]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for _ in range(15):
                write_batch(engines[n], entries(3))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    assert not errors
    assert store.heads.tree.size() == 180
    store.heads.sign(force=True)
    report = verify_store(store.engine, store.heads)
    assert report.passed, report.failures


def test_migration_0003_backfills_nodes_for_existing_rows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0002")
    from lgsp.audit.canonical import canonical_entry_bytes, pick_entry_fields
    from lgsp.audit.merkle import leaf_hash
    from lgsp.audit.writer import GENESIS, chain

    previous, rows = GENESIS, []
    for index, entry in enumerate(entries(300)):
        row = dict(entry, idx=index)
        leaf = leaf_hash(canonical_entry_bytes(pick_entry_fields(row)))
        previous = chain(previous, leaf)
        rows.append(dict(row, leaf_hash=leaf, chain_hash=previous))
    with engine.begin() as conn:
        conn.execute(insert(AuditEntry), rows)
    upgrade(engine)
    settings = make_settings(str(engine.url), tmp_path)
    from lgsp.audit.heads import HeadService

    heads = HeadService(engine, settings)
    assert heads.tree.size() == 300
    assert root_hash(heads.tree, 300) == root_hash(MemoryTreeStore([r["leaf_hash"] for r in rows]), 300)
    write_batch(engine, entries(5))  # the writer continues the backfilled tree
    heads.sign(force=True)
    assert verify_store(engine, heads).passed
    engine.dispose()


def test_log_key_file_is_created_0600_once_and_registered(store: Store) -> None:
    store.write(3)
    head = store.heads.sign(force=True)
    assert head is not None and head.tree_size == 3
    path = Path(store.settings.audit_log_key_file)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    from lgsp.audit.heads import HeadService

    again = HeadService(store.engine, store.settings)  # a second process with the same settings
    store.write(1)
    second = again.sign(force=True)
    assert second is not None and second.key_id == head.key_id
    ring = store.heads.keyring()
    assert [k.key_id for k in ring.keys] == [head.key_id]
    ring.verify(second)
    assert store.heads.sign(force=True) == second  # nothing new: the same head, not a duplicate


def test_heads_are_due_after_n_entries_or_t_seconds(store: Store, tmp_path: Path) -> None:
    store.write(5)
    assert store.heads.due()  # first head: due as soon as there are entries
    first = store.heads.sign()
    assert first is not None and first.tree_size == 5
    store.write(50)
    assert not store.heads.due() and store.heads.sign() == first  # 50 < N=100, T=1h not reached
    store.write(50)
    assert store.heads.due()
    assert store.heads.sign().tree_size == 105  # type: ignore[union-attr]
    from lgsp.audit.heads import HeadService

    quick = HeadService(store.engine, make_settings(store.url, tmp_path, audit_head_every_seconds=0.0))
    store.write(1)
    assert quick.due() and quick.sign().tree_size == 106  # type: ignore[union-attr]


async def test_gateway_writer_signs_heads_in_the_background(store: Store) -> None:
    writer = AuditWriter(store.engine, settings=store.settings)
    await writer.start()
    try:
        indexes = await asyncio.gather(*(writer.record(e) for e in entries(250)))
        assert sorted(indexes) == list(range(250))
        for _ in range(100):
            latest = store.heads.latest()
            if latest is not None and latest.tree_size >= 200:
                break
            await asyncio.sleep(0.05)
        assert latest is not None and latest.tree_size >= 200  # woken by the writer at N=100 entries
    finally:
        await writer.stop()
    with store.engine.connect() as conn:
        assert conn.execute(select(AuditHead.tree_size)).scalars().all()  # stored
    assert verify_store(store.engine, store.heads).passed


def test_heads_carry_a_tsa_token_from_a_tsa_on_localhost(store: Store, tmp_path: Path) -> None:
    from lgsp.audit.evidence import export_bundle
    from lgsp.audit.heads import HeadService
    from lgsp.audit.tsa import TestTsa

    tsa = TestTsa()
    with serve_in_thread(tsa.app) as server:
        heads = HeadService(store.engine, make_settings(store.url, tmp_path, audit_tsa_url=server.url + "/"))
        store.write(7)
        head = heads.sign(force=True)
    assert head is not None and head.tsa_token and tsa.requests_served == 1
    bundle = export_bundle(store.engine, heads, 0, None)
    report = verify_bundle(bundle, trusted_keys=heads.keyring(), tsa_roots=tsa.root_pem)
    assert report.passed and any(c.name == "timestamp 7" and c.ok for c in report.checks)
    other_root = TestTsa().root_pem
    assert not verify_bundle(bundle, trusted_keys=heads.keyring(), tsa_roots=other_root).passed


def test_inclusion_proofs_from_the_store_verify_against_a_signed_head(store: Store) -> None:
    store.write(77)
    head = store.heads.sign(force=True)
    assert head is not None
    from lgsp.audit.merkle import inclusion_proof

    leaves = stored_leaves(store)
    for index in (0, 1, 38, 76):
        verify_inclusion(index, 77, leaves[index], inclusion_proof(store.heads.tree, index, 77), head.root_hash)
    with store.engine.begin() as conn:
        conn.execute(delete(AuditHead))
    assert store.heads.latest() is None
