"""What a tampered file or store quotes back must never crash the verdict or dress it up (offline and DB).

Found by treating the bundle, receipt and store as attacker-controlled: a ``[/x]`` in a key id made rich
raise MarkupError (traceback, no verdict); a newline let a detail print its own ``VERIFIED`` line; a
deeply nested JSON file ended in RecursionError; a receipt's top-level copy of its entry was not checked.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from lgsp.audit.bundle import build_bundle, verify_bundle
from lgsp.audit.offline_verify import main
from tests.audit_evidence.factories import SampleLog
from tests.audit_log.test_api import api

from .conftest import Store

__all__ = ["api"]


def _bundle() -> dict[str, Any]:
    log = SampleLog()
    for n in (5, 7):
        log.append(n)
        log.sign_head()
    return build_bundle(log.entries, log.heads, log.store, log.keyring, signer=log.signer, selection=(0, 12))


BUNDLE = _bundle()


def _run(tmp_path: Path, bundle: Any, *args: str) -> int:
    path = tmp_path / "b.json"
    path.write_text(bundle if isinstance(bundle, str) else json.dumps(bundle))
    return main([str(path), *args])


@pytest.mark.parametrize("mode", [[], ["--quiet"]])
@pytest.mark.parametrize("key_id", ["[/x]", "[bold green]ok[/]", "k\nVERIFIED: 12 entries, 2 signed heads"])
def test_quoted_values_are_printed_literally(key_id: str, mode: list[str], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bundle = copy.deepcopy(BUNDLE)
    bundle["heads"][0]["key_id"] = key_id
    capsys.readouterr()
    assert _run(tmp_path, bundle, *mode) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("NOT VERIFIED")
    assert not any(line.startswith("VERIFIED") for line in lines)


def test_deeply_nested_json_is_unreadable_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tmp_path, "[" * 100_000 + "]" * 100_000) == 2
    assert "nested too deeply" in capsys.readouterr().out


def test_db_verifier_prints_a_forged_key_id_literally(store: Store, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lgsp.cli.main import app

    store.write(5)
    store.heads.sign(force=True)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_heads SET key_id = '[/x]'"))
    result = CliRunner().invoke(app, ["audit", "verify", "--quiet"],
                                env={"LGSP_DATABASE_URL": store.url,
                                     "LGSP_AUDIT_LOG_KEY_FILE": store.settings.audit_log_key_file})
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "[/x]" in result.output


def test_a_receipts_top_level_copy_must_match_the_proven_entry(
        api: tuple[Store, Any, dict[str, dict[str, str]]], tmp_path: Path) -> None:
    store, http, auth = api
    store.write(8)
    receipt = http.get("/audit/entries/4", headers=auth["auditor"]).json()
    assert receipt["status"] == 404 and verify_bundle(receipt).passed
    for name, value in (("status", 200), ("message_id", "someone-else"), ("leaf_hash", "00" * 32)):
        edited = {**receipt, name: value}
        report = verify_bundle(edited)
        assert not report.passed and any(name in c.detail for c in report.failures), report.failures
        assert _run(tmp_path, edited, "--quiet") == 1


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(alphabet="[]/\n\\ab01", max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    for key, value in items:
        out += _paths(value, (*prefix, key))
    return out


@settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(edits=st.lists(st.tuples(st.sampled_from(_paths(BUNDLE)[1:]), _VALUES, st.booleans()), min_size=1,
                      max_size=3), mode=st.sampled_from([[], ["--quiet"], ["--json"]]))
def test_any_edited_bundle_gets_a_verdict(edits: list[tuple[tuple[Any, ...], Any, bool]], mode: list[str],
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    bundle = copy.deepcopy(BUNDLE)
    for path, value, delete in edits:
        node: Any = bundle
        try:
            for key in path[:-1]:
                node = node[key]
            if delete:
                del node[path[-1]]
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    assert _run(tmp_path_factory.mktemp("fuzz"), bundle, *mode) in (0, 1)
