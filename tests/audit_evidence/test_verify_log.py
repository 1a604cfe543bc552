"""`verify_log`: recompute the tree from stored rows (as `lgsp audit verify` does) and check heads."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lgsp.audit.bundle import Report, verify_log
from lgsp.audit.canonical import entry_leaf_hash
from lgsp.audit.merkle import extend_frontier, frontier_root, leaf_hash, root_hash
from lgsp.audit.sth import LogKeyRing, LogSigner
from lgsp.audit.tree_store import MemoryTreeStore

from .factories import SampleLog


def _rows(log: SampleLog) -> list[dict[str, Any]]:
    """The entries as the store's rows look: idx, float latency_ms, naive UTC time, leaf_hash."""
    rows = []
    for e in log.entries:
        row = {k: v for k, v in e.items() if k not in ("index", "latency_us", "v")}
        row.update(idx=e["index"], latency_ms=e["latency_us"] / 1000, leaf_hash=entry_leaf_hash(e))
        rows.append(row)
    return rows


@pytest.fixture
def log() -> SampleLog:
    log = SampleLog()
    for batch in (1, 9, 23, 31):  # heads at 1, 10, 33, 64
        log.append(batch)
        log.sign_head()
    return log


def _failed(report: Report) -> str:
    return " | ".join(f"{c.name}: {c.detail}" for c in report.failures)


def test_frontier_root_equals_the_tree_root_at_every_size() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(200)]
    frontier: dict[int, bytes] = {}
    store = MemoryTreeStore(leaves)
    assert frontier_root(frontier) == root_hash(store, 0)
    for size, leaf in enumerate(leaves, start=1):
        extend_frontier(frontier, size - 1, [leaf])
        assert frontier_root(frontier) == root_hash(store, size)


def test_clean_log_verifies_and_reports_progress(log: SampleLog) -> None:
    seen: list[int] = []
    report = verify_log(_rows(log), log.heads, log.keyring, progress=seen.append)
    assert report.passed, _failed(report)
    assert (report.entries_verified, report.heads_verified, seen[-1]) == (64, 4, 64)


def test_edited_row_is_pinpointed(log: SampleLog) -> None:
    rows = _rows(log)
    rows[20]["user_id"] = "someone else"
    failed = _failed(verify_log(rows, log.heads, log.keyring))
    assert "entry 20: the row no longer matches" in failed
    assert "head 33: root differs" in failed and "head 64: root differs" in failed
    assert "head 10:" not in failed  # the past before the edit still matches


def test_edited_row_with_recomputed_leaf_hash_still_fails_the_heads(log: SampleLog) -> None:
    rows = _rows(log)
    rows[5]["status"] = 200 if rows[5]["status"] != 200 else 500
    rows[5].pop("leaf_hash")
    failed = _failed(verify_log(rows, log.heads, log.keyring))
    assert "head 10: root differs" in failed


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda rows: rows.pop(12), "entry 13: expected index 12"),
        (lambda rows: rows.insert(3, copy.deepcopy(rows[3])), "entry 3: expected index 4"),
        (lambda rows: rows.__setitem__(slice(7, 9), [rows[8], rows[7]]), "entry 8: expected index 7"),
    ],
    ids=["deleted", "duplicated", "reordered"],
)
def test_deleted_duplicated_reordered_rows_are_detected(log: SampleLog, change: Any, expected: str) -> None:
    rows = _rows(log)
    change(rows)
    report = verify_log(rows, log.heads, log.keyring)
    assert expected in _failed(report)


def test_forged_unknown_and_dangling_heads_fail(log: SampleLog) -> None:
    heads = list(log.heads)
    heads[1] = log.signer.sign_head(10, leaf_hash(b"wrong root"))
    stranger = LogSigner.generate().sign_head(33, heads[2].root_hash)
    beyond = log.signer.sign_head(65, heads[3].root_hash)
    failed = _failed(verify_log(_rows(log), [*heads, stranger, beyond], log.keyring))
    assert "head 10: root differs" in failed
    assert "unknown key" in failed
    assert "signed head of size 65, but only 64 entries" in failed
    assert not verify_log(_rows(log), log.heads, LogKeyRing()).passed  # no trusted key at all
