"""Both verifiers with the auditor's trust file (keys, witnesses, quorum) and state file.

Each tampering is the plain-SQL edit an operator could make; on main these passed both verifiers
(they had no trust file, quorum or state).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update

from lgsp.audit.evidence import audit_store, export_bundle
from lgsp.audit.merkle import root_hash
from lgsp.audit.models import AuditHead
from lgsp.audit.offline_verify import main
from lgsp.audit.sth import LogSigner
from lgsp.audit.trust import AuditState, TrustFile

from .conftest import Store
from .tampering import cut_tail, delete_heads_above
from .witnesses import trust_json, two_witnesses


def _grow(s: Store) -> None:
    s.write(20)
    s.heads.sign(force=True)
    s.write(20)
    s.heads.sign(force=True)


def _db(s: Store, trust: dict[str, Any], state: Path) -> Any:
    return audit_store(s.engine, s.heads, TrustFile.from_json(trust), AuditState.load(state))


def _names(report: Any) -> str:
    return " | ".join(f"{c.name}: {c.detail}" for c in report.failures)


def test_db_verifier_remembers_its_checkpoint_and_catches_rollback_and_deleted_heads(
        store: Store, tmp_path: Path) -> None:
    with two_witnesses(store, tmp_path) as (s, witnesses):
        _grow(s)
        trust, state = trust_json(s, witnesses), tmp_path / "state.json"
        first = _db(s, trust, state)
        assert first.passed, _names(first)
        assert json.loads(state.read_text())["head"]["tree_size"] == 40
        with s.engine.begin() as conn:
            delete_heads_above(conn, 20)  # only the newer heads
        report = _db(s, trust, state)
        assert not report.passed and "known head 40" in _names(report) and "state" in _names(report)
        with s.engine.begin() as conn:
            cut_tail(conn, 20, with_heads=True)  # and the entries: a clean-looking rollback
            conn.execute(text("DELETE FROM audit_cosignatures WHERE tree_size > 20"))
        report = _db(s, trust, state)
        assert "rollback" in _names(report), _names(report)
        assert json.loads(state.read_text())["head"]["tree_size"] == 40  # a failed view never moves the state


def test_db_verifier_flags_a_fork_through_the_witnesses_and_the_state(store: Store, tmp_path: Path) -> None:
    with two_witnesses(store, tmp_path) as (s, witnesses):
        _grow(s)
        trust, state = trust_json(s, witnesses), tmp_path / "state.json"
        assert _db(s, trust, state).passed
        with s.engine.begin() as conn:
            cut_tail(conn, 20, with_heads=True)
            conn.execute(text("DELETE FROM audit_cosignatures WHERE tree_size > 20"))
        s.write(20)  # two different trees of size 40
        s.heads.sign(force=True)
        report = _db(s, trust, state)
        failed = _names(report)
        assert "witnesses 40" in failed and "forked" in failed, failed
        # a fresh auditor with no state still sees the missing quorum
        assert "witnesses 40" in _names(_db(s, trust, tmp_path / "fresh.json"))


def test_a_new_key_inserted_in_the_store_is_untrusted(store: Store, tmp_path: Path) -> None:
    with two_witnesses(store, tmp_path) as (s, witnesses):
        _grow(s)
        trust, state = trust_json(s, witnesses), tmp_path / "state.json"
        rogue = LogSigner.generate()
        s.heads.register_key(rogue.public)
        forged = rogue.sign_head(40, root_hash(s.heads.tree, 40))
        with s.engine.begin() as conn:
            conn.execute(update(AuditHead).where(AuditHead.tree_size == 40).values(
                key_id=forged.key_id, signature=forged.signature, timestamp=forged.timestamp))
        report = _db(s, trust, state)
        assert "unknown key" in _names(report)
        assert any(c.name == "untrusted keys" and rogue.key_id[:16] in c.detail for c in report.checks)


def _offline(tmp_path: Path, bundle: dict[str, Any], trust: dict[str, Any], state: Path, *args: str) -> int:
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    (tmp_path / "trust.json").write_text(json.dumps(trust))
    return main([str(tmp_path / "b.json"), "--trust", str(tmp_path / "trust.json"), "--state", str(state),
                 "--quiet", *args])


def test_offline_quorum_state_and_an_old_bundle_presented_as_current(
        store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with two_witnesses(store, tmp_path) as (s, witnesses):
        s.write(20)
        s.heads.sign(force=True)
        old = export_bundle(s.engine, s.heads, 0, None)
        s.write(20)
        s.heads.sign(force=True)
        new = export_bundle(s.engine, s.heads, 0, None)
        trust, state = trust_json(s, witnesses), tmp_path / "state.json"
        assert _offline(tmp_path, old, trust, state) == 0, capsys.readouterr().out
        assert _offline(tmp_path, new, trust, state) == 0, capsys.readouterr().out
        assert json.loads(state.read_text())["head"]["tree_size"] == 40
        capsys.readouterr()
        assert _offline(tmp_path, old, trust, state) == 1  # yesterday's bundle as today's
        assert "old bundle presented as current" in capsys.readouterr().out

        stripped = copy.deepcopy(new)
        stripped["cosignatures"]["40"] = stripped["cosignatures"]["40"][:1]
        assert _offline(tmp_path, stripped, trust, tmp_path / "s2.json") == 1
        assert "quorum is 2" in capsys.readouterr().out
        assert _offline(tmp_path, stripped, trust_json(s, witnesses, quorum=1), tmp_path / "s3.json") == 0


def test_offline_key_found_only_in_the_bundle_is_untrusted(store: Store, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    with two_witnesses(store, tmp_path) as (s, witnesses):
        _grow(s)
        bundle = export_bundle(s.engine, s.heads, 0, None)
        trust = trust_json(s, witnesses)
        rogue = LogSigner.generate()
        forged = copy.deepcopy(bundle)
        forged["keys"].append(rogue.public.to_json())
        head = rogue.sign_head(40, bytes.fromhex(forged["heads"][-1]["root_hash"]))
        forged["heads"][-1] = head.to_json()
        assert _offline(tmp_path, forged, trust, tmp_path / "s.json") == 1
        out = capsys.readouterr().out
        assert "unknown key" in out and "untrusted keys" not in out  # failures only with --quiet
        from lgsp.audit.bundle import verify_bundle

        report = verify_bundle(forged, trusted_keys=TrustFile.from_json(trust).ring)
        assert not report.passed
