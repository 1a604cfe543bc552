"""The SQL node store on real SQLite and PostgreSQL: same hashes as memory, guarded appends."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, create_engine, select, update
from sqlalchemy.exc import IntegrityError

from lgsp.audit.merkle import (
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from lgsp.audit.tree_store import AuditTreeNode, MemoryTreeStore, SqlTreeStore, TreeStoreError
from lgsp.store.base import Base

LEAVES = [leaf_hash(f"entry {i}".encode()) for i in range(133)]


def test_sql_store_matches_memory_store_after_uneven_batches(engine: Engine) -> None:
    sql, memory = SqlTreeStore(engine), MemoryTreeStore()
    rng = random.Random(3)
    pos = 0
    while pos < len(LEAVES):
        batch = LEAVES[pos : pos + rng.randint(1, 17)]
        assert sql.append(batch, start_index=pos) == pos + len(batch)
        memory.append(batch, start_index=pos)
        pos += len(batch)
    assert sql.size() == memory.size() == 133
    for size in (1, 2, 3, 64, 100, 133):
        assert root_hash(sql, size) == root_hash(memory, size)
    for index in (0, 1, 63, 64, 99, 132):
        assert inclusion_proof(sql, index, 133) == inclusion_proof(memory, index, 133)
    for old in (1, 7, 64, 100):
        assert consistency_proof(sql, old, 133) == consistency_proof(memory, old, 133)
    # only perfect subtrees are stored: about 2 rows per leaf, never more
    with engine.connect() as conn:
        rows = conn.execute(select(AuditTreeNode.level)).all()
    assert len(rows) == 2 * 133 - bin(133).count("1")


def test_a_new_store_object_resumes_from_what_is_committed(engine: Engine) -> None:
    SqlTreeStore(engine).append(LEAVES[:37], start_index=0)
    resumed = SqlTreeStore(engine)  # e.g. the sequencer fails over to another process
    resumed.append(LEAVES[37:90], start_index=37)
    assert root_hash(resumed, 90) == root_hash(MemoryTreeStore(LEAVES[:90]), 90)


def test_append_at_the_wrong_position_is_refused_and_writes_nothing(engine: Engine) -> None:
    store = SqlTreeStore(engine)
    store.append(LEAVES[:10], start_index=0)
    with pytest.raises(TreeStoreError, match="append at index 9, but the tree has 10 leaves"):
        store.append(LEAVES[9:12], start_index=9)  # replay of a leaf
    with pytest.raises(TreeStoreError, match="append at index 11"):
        store.append(LEAVES[11:12], start_index=11)  # hole
    with pytest.raises(TreeStoreError, match="32-byte"):
        store.append([b"short"], start_index=10)
    assert store.size() == 10


def test_append_joins_the_callers_transaction(engine: Engine) -> None:
    store = SqlTreeStore(engine)
    with engine.connect() as conn:
        trans = conn.begin()
        store.append(LEAVES[:5], start_index=0, connection=conn)
        assert store.size(conn) == 5
        trans.rollback()  # e.g. the entries' INSERT failed: the nodes must vanish with them
    assert store.size() == 0


def test_a_rewritten_node_in_sql_breaks_proofs_against_the_signed_root(engine: Engine) -> None:
    store = SqlTreeStore(engine)
    store.append(LEAVES[:100], start_index=0)
    trusted_root = root_hash(store, 100)
    # an insider overwrites leaf 42's hash (e.g. after editing the entry) directly in the table
    with engine.begin() as conn:
        conn.execute(
            update(AuditTreeNode)
            .where(AuditTreeNode.level == 0, AuditTreeNode.idx == 42)
            .values(hash=leaf_hash(b"forged"))
        )
    # stored interior nodes still give the old root, so verifiers recompute from leaves, which differs
    assert root_hash(store, 100) == trusted_root
    leaves = store.get_nodes([(0, i) for i in range(100)])
    assert root_hash(MemoryTreeStore(leaves), 100) != trusted_root
    with pytest.raises(ProofError):
        verify_inclusion(42, 100, leaf_hash(b"forged"), inclusion_proof(store, 42, 100), trusted_root)
    # and rewriting an interior node instead breaks consistency with the earlier signed head
    earlier_root = root_hash(store, 50)
    verify_consistency(50, 100, earlier_root, trusted_root, consistency_proof(store, 50, 100))
    with engine.begin() as conn:  # leaves 32..47 form the perfect subtree (level 4, index 2)
        conn.execute(
            update(AuditTreeNode)
            .where(AuditTreeNode.level == 4, AuditTreeNode.idx == 2)
            .values(hash=leaf_hash(b"other"))
        )
    with pytest.raises(ProofError):
        verify_consistency(50, 100, earlier_root, trusted_root, consistency_proof(store, 50, 100))


def test_missing_nodes_are_reported_not_guessed(engine: Engine) -> None:
    store = SqlTreeStore(engine)
    store.append(LEAVES[:8], start_index=0)
    with pytest.raises(KeyError, match="missing"):
        store.get_nodes([(0, 3), (0, 8)])


def test_two_sequencers_racing_on_postgresql_cannot_both_append(pg_database_factory: Callable[[], str]) -> None:
    """Belt and braces under the advisory lock: the primary key refuses a second leaf 0.

    PostgreSQL only: SQLite already admits one writer per database file at a time.
    """
    engine = create_engine(pg_database_factory())
    Base.metadata.create_all(engine, tables=[AuditTreeNode.__table__])  # type: ignore[list-item]
    store = SqlTreeStore(engine)
    errors: list[BaseException] = []
    with engine.connect() as first:
        tx = first.begin()
        store.append(LEAVES[:3], start_index=0, connection=first)

        def second_writer() -> None:
            try:
                store.append(LEAVES[3:6], start_index=0)  # believes the tree is still empty
            except Exception as exc:
                errors.append(exc)

        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(0.3)  # give it time to block on the first writer's uncommitted rows
        tx.commit()
        thread.join(10)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], IntegrityError | TreeStoreError), errors
    assert store.size() == 3
    assert root_hash(store, 3) == root_hash(MemoryTreeStore(LEAVES[:3]), 3)
    engine.dispose()
