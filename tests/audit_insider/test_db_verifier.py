"""`lgsp audit verify` against an insider: tail deletions, rollbacks, deleted heads; never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lgsp.audit.evidence import verify_store

from .conftest import Store
from .tampering import cut_tail, delete_heads_above


def _two_heads(store: Store) -> None:
    store.write(20)
    store.heads.sign(force=True)
    store.write(20)
    store.heads.sign(force=True)


def _cli(store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LGSP_DATABASE_URL": store.url,
           "LGSP_AUDIT_LOG_KEY_FILE": store.settings.audit_log_key_file, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "lgsp.cli", "audit", "verify", "--quiet", *args],
                          env=env, capture_output=True, text=True, timeout=120)


def test_head_larger_than_the_stored_tree_is_a_fail_line_not_a_traceback(store: Store, tmp_path: Path) -> None:
    _two_heads(store)
    with store.engine.begin() as conn:
        cut_tail(conn, 30, with_heads=False)  # head 40 now claims more than the store holds
    report = verify_store(store.engine, store.heads)  # raised ProofError on main
    assert not report.passed
    assert any("[30, 40)" in c.detail for c in report.failures), report.failures
    done = _cli(store)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "FAIL" in done.stdout


def test_tail_deleted_with_the_heads_above_it_is_caught_by_a_known_head(store: Store, tmp_path: Path) -> None:
    _two_heads(store)
    kept = tmp_path / "head.json"
    kept.write_text(json.dumps(store.heads.latest().to_json()))
    with store.engine.begin() as conn:
        cut_tail(conn, 30, with_heads=True)
    assert verify_store(store.engine, store.heads).passed  # consistent in itself: needs outside evidence
    done = _cli(store, "--known-head", str(kept))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "known head 40" in done.stdout and "[30, 40)" in done.stdout


def test_rollback_to_an_old_head_then_new_writes_is_caught(store: Store, tmp_path: Path) -> None:
    _two_heads(store)
    kept = store.heads.latest()
    assert kept is not None
    with store.engine.begin() as conn:
        cut_tail(conn, 20, with_heads=True)
    store.write(25)  # a different history grows past the kept head's size
    store.heads.sign(force=True)
    assert verify_store(store.engine, store.heads).passed
    report = verify_store(store.engine, store.heads, known_heads=[kept])
    assert any(c.name == "known head 40" and "rewritten" in c.detail for c in report.failures), report.failures


def test_deleting_only_the_newer_heads_is_caught(store: Store, tmp_path: Path) -> None:
    _two_heads(store)
    kept = tmp_path / "head.json"
    kept.write_text(json.dumps(store.heads.latest().to_json()))
    with store.engine.begin() as conn:
        delete_heads_above(conn, 20)
    assert verify_store(store.engine, store.heads).passed
    done = _cli(store, "--known-head", str(kept))
    assert done.returncode == 1 and "known head 40" in done.stdout, done.stdout + done.stderr


def test_unreadable_known_head_exits_2(store: Store, tmp_path: Path) -> None:
    _two_heads(store)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = _cli(store, "--known-head", str(bad))
    assert done.returncode == 2 and "Traceback" not in done.stderr
