"""Issue 16's tampering table, row by row, on SQLite and PostgreSQL (the table in docs/auditors.md).

Setting for every row: a log with heads at 20 and 40, both cosigned by two real witnesses; the
auditor holds a trust file (log key, both witnesses, quorum 2), a state file in which the DB
verifier recorded the head of size 40, and a bundle exported when the log had 20 entries. Then the
operator tampers with plain SQL (or edits a file) and the row's detector must fail with a reason.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text, update

from lgsp.audit.bundle import Report
from lgsp.audit.evidence import audit_store, export_bundle
from lgsp.audit.merkle import root_hash
from lgsp.audit.models import AuditHead
from lgsp.audit.offline_verify import main
from lgsp.audit.sth import LogSigner
from lgsp.audit.trust import AuditState, TrustFile

from .conftest import Store
from .tampering import cut_tail, delete_heads_above
from .witnesses import RunningWitness, trust_json, two_witnesses


@dataclass
class World:
    store: Store
    witnesses: list[RunningWitness]
    trust: dict[str, Any]
    state: Path
    old_bundle: dict[str, Any]
    tmp: Path

    def db(self) -> Report:
        return audit_store(self.store.engine, self.store.heads, TrustFile.from_json(self.trust),
                           AuditState.load(self.state))

    def offline(self, bundle: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        (self.tmp / "b.json").write_text(json.dumps(bundle))
        (self.tmp / "trust.json").write_text(json.dumps(self.trust))
        capsys.readouterr()
        code = main([str(self.tmp / "b.json"), "--trust", str(self.tmp / "trust.json"), "--state", str(self.state),
                     "--quiet"])
        return code, capsys.readouterr().out

    def refusals(self) -> list[dict[str, Any]]:
        return [r for w in self.witnesses for r in w.witness.store.refusals()]


@pytest.fixture
def world(store: Store, tmp_path: Path) -> Iterator[World]:
    with two_witnesses(store, tmp_path) as (s, witnesses):
        s.write(20)
        s.heads.sign(force=True)
        old_bundle = export_bundle(s.engine, s.heads, 0, None)
        s.write(20)
        s.heads.sign(force=True)
        w = World(s, witnesses, trust_json(s, witnesses), tmp_path / "state.json", old_bundle, tmp_path)
        baseline = w.db()
        assert baseline.passed, [c.detail for c in baseline.failures]
        assert json.loads(w.state.read_text())["head"]["tree_size"] == 40
        yield w


def _fails(report: Report, *needles: str) -> None:
    text_ = " | ".join(f"{c.name}: {c.detail}" for c in report.failures)
    assert not report.passed
    for needle in needles:
        assert needle in text_, text_


def _drop_cosignatures_above(w: World, size: int) -> None:
    with w.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_cosignatures WHERE tree_size > :s"), {"s": size})


def delete_in_the_middle(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    with w.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE idx = 7"))
    _fails(w.db(), "entry 8")  # DB verifier
    code, out = w.offline(export_bundle(w.store.engine, w.store.heads, 0, 40), capsys)
    assert code == 1 and "[7, 8)" in out  # offline verifier: the export names the gap


def delete_at_the_tail(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    with w.store.engine.begin() as conn:
        cut_tail(conn, 30, with_heads=False)
    _fails(w.db(), "[30, 40)")


def delete_tail_with_the_heads_above(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    with w.store.engine.begin() as conn:
        cut_tail(conn, 30, with_heads=True)
    _drop_cosignatures_above(w, 30)
    _fails(w.db(), "known head 40", "rollback")  # DB verifier with the state file
    w.store.write(15)
    w.store.heads.sign(force=True)  # growing again past 40: the witnesses refuse the rewritten tree
    assert any(r["status"] == 422 for r in w.refusals()), w.refusals()
    _fails(w.db(), "witnesses 45")


def roll_back_to_an_old_head(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    with w.store.engine.begin() as conn:
        cut_tail(conn, 20, with_heads=True)
    _drop_cosignatures_above(w, 20)
    _fails(w.db(), "rollback")
    code, out = w.offline(export_bundle(w.store.engine, w.store.heads, 0, None), capsys)
    assert code == 1 and "rollback" in out


def delete_newer_heads(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    with w.store.engine.begin() as conn:
        delete_heads_above(conn, 20)
    _fails(w.db(), "known head 40", "state")


def fork(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    with w.store.engine.begin() as conn:
        cut_tail(conn, 20, with_heads=True)
    w.store.write(20)  # a second tree of size 40
    w.store.heads.sign(force=True)
    assert any(r["status"] == 409 for r in w.refusals()), w.refusals()  # witnesses
    _fails(w.db(), "forked", "known head 40")


def new_key_inserted(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    rogue = LogSigner.generate()
    w.store.heads.register_key(rogue.public)
    forged = rogue.sign_head(40, root_hash(w.store.heads.tree, 40))
    with w.store.engine.begin() as conn:
        conn.execute(update(AuditHead).where(AuditHead.tree_size == 40).values(
            key_id=forged.key_id, signature=forged.signature, timestamp=forged.timestamp))
    _fails(w.db(), "unknown key")
    code, out = w.offline(export_bundle(w.store.engine, w.store.heads, 0, None), capsys)
    assert code == 1 and "unknown key" in out


def edited_selection(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = export_bundle(w.store.engine, w.store.heads, 0, None)
    forged = copy.deepcopy(bundle)
    del forged["entries"][30:]
    forged["selection"]["to"] = 30
    code, out = w.offline(forged, capsys)
    assert code == 1 and "selection" in out and "was edited" in out


def old_bundle_presented_as_current(w: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = w.offline(w.old_bundle, capsys)
    assert code == 1 and "old bundle presented as current" in out


ROWS: dict[str, Callable[[World, pytest.CaptureFixture[str]], None]] = {
    f.__name__: f for f in (delete_in_the_middle, delete_at_the_tail, delete_tail_with_the_heads_above,
                            roll_back_to_an_old_head, delete_newer_heads, fork, new_key_inserted,
                            edited_selection, old_bundle_presented_as_current)
}


@pytest.mark.parametrize("row", list(ROWS))
def test_tampering_row_is_detected(row: str, world: World, capsys: pytest.CaptureFixture[str]) -> None:
    ROWS[row](world, capsys)
