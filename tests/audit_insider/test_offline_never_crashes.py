"""`lgsp-audit-verify` ends every malformed bundle in its FAIL list (exit 1), never a traceback."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from lgsp.audit.bundle import build_bundle, verify_bundle
from lgsp.audit.offline_verify import main
from tests.audit_evidence.factories import SampleLog


def _bundle() -> dict[str, Any]:
    log = SampleLog()
    for n in (5, 7):
        log.append(n)
        log.sign_head()
    return build_bundle(log.entries, log.heads, log.store, log.keyring)


def _proof_size_is_a_list(b: dict[str, Any]) -> None:
    b["entries"][0]["inclusion"]["tree_size"] = [12]


def _consistency_sizes_are_lists(b: dict[str, Any]) -> None:
    b["consistency"][0]["from_size"] = [5]


def _selection_is_a_string(b: dict[str, Any]) -> None:
    b["selection"] = "everything"


def _heads_is_a_number(b: dict[str, Any]) -> None:
    b["keys"] = 7


@pytest.mark.parametrize("edit", [_proof_size_is_a_list, _consistency_sizes_are_lists, _selection_is_a_string,
                                  _heads_is_a_number])
def test_malformed_bundles_fail_with_a_reason(edit: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = copy.deepcopy(_bundle())
    edit(bundle)
    report = verify_bundle(bundle)
    assert not report.passed and report.failures[0].detail
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    assert main([str(path), "--quiet"]) == 1
