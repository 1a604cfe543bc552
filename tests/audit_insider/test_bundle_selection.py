"""Exported bundles carry a signed export statement: edited selections, truncations and deletions fail.

Each case is the exact edit from issue 16 that `lgsp-audit-verify` accepted on main (exit 0).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from lgsp.audit.evidence import export_bundle
from lgsp.audit.offline_verify import main
from lgsp.audit.query import AuditFilter

from .conftest import Store


def _verify(tmp_path: Path, store: Store, bundle: dict[str, Any], *args: str) -> int:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(store.heads.keyring().to_json()))
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    return main([str(path), "--trusted-keys", str(keys), "--quiet", *args])


@pytest.fixture
def logged(store: Store) -> Store:
    store.write(20, user_id="officer-7")
    store.heads.sign(force=True)
    store.write(20)
    store.heads.sign(force=True)
    return store


def test_deleting_entries_and_calling_the_bundle_a_receipt_fails(logged: Store, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bundle = export_bundle(logged.engine, logged.heads, 0, None)
    assert _verify(tmp_path, logged, bundle) == 0
    forged = copy.deepcopy(bundle)
    del forged["entries"][10:30]
    forged["selection"]["filter"] = {"receipt": True}
    assert _verify(tmp_path, logged, forged) == 1
    out = capsys.readouterr().out
    assert "NOT VERIFIED" in out


def test_deleting_entries_and_calling_the_bundle_filtered_fails(logged: Store, tmp_path: Path) -> None:
    bundle = export_bundle(logged.engine, logged.heads, 0, None)
    forged = copy.deepcopy(bundle)
    del forged["entries"][3]
    forged["selection"]["filter"] = {"status": 200}
    assert _verify(tmp_path, logged, forged, "--allow-incomplete") == 1


def test_tail_truncated_with_an_edited_selection_fails_even_against_a_later_known_head(
        logged: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = export_bundle(logged.engine, logged.heads, 0, None)
    later = tmp_path / "later.json"
    later.write_text(json.dumps(logged.heads.latest().to_json()))  # type: ignore[union-attr]
    forged = copy.deepcopy(bundle)
    del forged["entries"][25:]
    forged["selection"]["to"] = 25
    assert _verify(tmp_path, logged, forged, "--known-head", str(later)) == 1
    capsys.readouterr()
    # a bundle whose entries stop before the selection says names the missing range
    forged = copy.deepcopy(bundle)
    del forged["entries"][25:]
    assert _verify(tmp_path, logged, forged) == 1
    assert "[25, 40)" in capsys.readouterr().out


def test_a_range_export_says_which_part_of_the_head_it_leaves_out(logged: Store, tmp_path: Path) -> None:
    from lgsp.audit.bundle import verify_bundle

    bundle = export_bundle(logged.engine, logged.heads, 0, 30)
    report = verify_bundle(bundle, trusted_keys=logged.heads.keyring())
    assert report.passed
    tail = next(c for c in report.checks if c.name == "tail")
    assert tail.ok is None and "[30, 40)" in tail.detail


def test_filtered_exports_must_prove_omissions_or_be_accepted_as_incomplete(logged: Store, tmp_path: Path) -> None:
    f = AuditFilter(user_id="officer-7")
    plain = export_bundle(logged.engine, logged.heads, 0, None, f)
    assert _verify(tmp_path, logged, plain) == 1
    assert _verify(tmp_path, logged, plain, "--allow-incomplete") == 0
    proven = export_bundle(logged.engine, logged.heads, 0, None, f, prove_omissions=True)
    assert len(proven["entries"]) == 20 and len(proven["omitted"]) == 20
    assert _verify(tmp_path, logged, proven) == 0
    dropped = copy.deepcopy(proven)
    del dropped["omitted"][5]  # hide an entry that was not exported
    assert _verify(tmp_path, logged, dropped) == 1
    swapped = copy.deepcopy(proven)
    swapped["omitted"].append(swapped["entries"].pop())  # a matching entry passed off as non-matching
    swapped["omitted"].sort(key=lambda item: item["entry"]["index"])
    assert _verify(tmp_path, logged, swapped) == 1
