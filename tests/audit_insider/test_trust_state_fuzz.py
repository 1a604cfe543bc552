"""Mutated ``--trust`` and ``--state`` files (and key announcements) never crash a verifier or pass a tampered log.

Every run of ``lgsp-audit-verify`` ends in a verdict (exit 0/1, last line ``VERIFIED``/``NOT VERIFIED``) or
in one ``cannot read input`` line with exit 2 — never a traceback — and a tampered bundle is never
``VERIFIED`` whatever the trust and state files say. (The witness CLI's inputs — its name, the log keys it is
told to trust, its key file and its own SQLite state file — are fuzzed in test_witness_cli_inputs.py.)
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lgsp.audit.evidence import export_bundle
from lgsp.audit.heads import HeadService
from lgsp.audit.keys import retire_key, rotate_key
from lgsp.audit.offline_verify import main
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from tests.audit_log.conftest import Store, make_settings

from .witnesses import trust_json, two_witnesses

FUZZ = settings(max_examples=200, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


@dataclass
class Evidence:
    dir: Path
    bundle: dict[str, Any]
    trust: dict[str, Any]
    state: dict[str, Any]
    log_vkey: str
    witness_vkey: str


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evidence]:
    """A real log (SQLite, two real witnesses) with a rotation and a retirement; its bundle, trust and state."""
    tmp = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'audit.db'}"
    engine = make_engine(url)
    upgrade(engine)
    settings_ = make_settings(url, tmp)
    store = Store("sqlite", url, engine, settings_, HeadService(engine, settings_))
    try:
        with two_witnesses(store, tmp) as (s, witnesses):
            s.write(12)
            s.heads.sign(force=True)
            trust = trust_json(s, witnesses)
            old = s.heads.signer
            log_vkey = old.public.note_verifier(s.settings.audit_checkpoint_origin).vkey()
            rotate_key(s.heads)
            s.write(6)
            s.heads.sign(force=True)
            retire_key(s.heads, old.key_id)
            bundle = export_bundle(s.engine, s.heads, 0, None)
            (tmp / "trust.json").write_text(json.dumps(trust))
            (tmp / "b.json").write_text(json.dumps(bundle))
            assert main([str(tmp / "b.json"), "--trust", str(tmp / "trust.json"),
                         "--state", str(tmp / "state.json"), "--quiet"]) == 0
            state = json.loads((tmp / "state.json").read_text())
            yield Evidence(tmp, bundle, trust, state, log_vkey, witnesses[0].witness.vkey)
    finally:
        engine.dispose()


def _tampered(bundle: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    out["entries"][3]["entry"]["status"] = 500  # the entry no longer matches its leaf: never VERIFIED
    return out


def _leaves(ev: Evidence) -> st.SearchStrategy[Any]:
    head = ev.state["head"]
    return st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), st.text(max_size=12),
        st.sampled_from([
            "lgsp-audit-trust", "lgsp-audit-state", "lgsp.test/audit", "lgsp.test/audit+x", "", " ",
            "2026-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z", "2026-13-45T99:00:00.000000Z",
            "\ud800", "[red]VERIFIED[/]\nVERIFIED", ev.log_vkey, ev.witness_vkey, ev.log_vkey[:-4], "Ed25519",
            head["root_hash"], head["signature"], head["key_id"], "0" * 5000,
        ]),
        st.just(copy.deepcopy(head)), st.just(copy.deepcopy(ev.trust["log_keys"][0])),
    )


def _json_values(ev: Evidence) -> st.SearchStrategy[Any]:
    return st.recursive(_leaves(ev), lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out += _paths(value, (*prefix, index))
    return out


def _mutate(data: st.DataObject, doc: Any, ev: Evidence) -> bytes:
    """One to three edits of ``doc`` (replace, delete, add a field, wrap) or a cut/spliced file."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        op = data.draw(st.sampled_from(["replace", "delete", "add", "wrap"]))
        value = data.draw(_json_values(ev))
        if not path:
            doc = value if op == "replace" else [doc] if op == "wrap" else doc
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if op == "replace":
            parent[last] = value
        elif op == "delete":
            del parent[last]
        elif op == "wrap":
            parent[last] = [parent[last]]
        elif isinstance(parent[last], dict):
            parent[last][data.draw(st.text(max_size=8))] = value
        elif isinstance(parent[last], list):
            parent[last].append(value)
    raw = json.dumps(doc).encode()
    if data.draw(st.integers(0, 9)) == 0:  # now and then a damaged file rather than a damaged document
        cut = data.draw(st.integers(0, len(raw)))
        raw = raw[:cut] + data.draw(st.binary(max_size=3))
    return raw


def _run(ev: Evidence, bundle: dict[str, Any], trust: bytes, state: bytes | None,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    (ev.dir / "t.json").write_bytes(trust)
    (ev.dir / "bundle-run.json").write_text(json.dumps(bundle))
    args = [str(ev.dir / "bundle-run.json"), "--trust", str(ev.dir / "t.json"), "--quiet"]
    state_path = ev.dir / "s.json"
    state_path.unlink(missing_ok=True)
    if state is not None:
        state_path.write_bytes(state)
        args += ["--state", str(state_path)]
    capsys.readouterr()
    code = main(args)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert code in (0, 1, 2), (code, lines)
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("ERROR: cannot read input"), lines
    else:
        assert lines and lines[-1].startswith("VERIFIED" if code == 0 else "NOT VERIFIED"), lines
    return code, lines


@FUZZ
@given(data=st.data())
def test_mutated_trust_files_end_in_a_verdict(evidence: Evidence, data: st.DataObject,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    trust = _mutate(data, evidence.trust, evidence)
    _run(evidence, evidence.bundle, trust, None, capsys)
    code, lines = _run(evidence, _tampered(evidence.bundle), trust, None, capsys)
    assert code != 0, lines


@FUZZ
@given(data=st.data())
def test_mutated_state_files_end_in_a_verdict(evidence: Evidence, data: st.DataObject,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    trust = json.dumps(evidence.trust).encode()
    state = _mutate(data, evidence.state, evidence)
    _run(evidence, evidence.bundle, trust, state, capsys)
    code, lines = _run(evidence, _tampered(evidence.bundle), trust, state, capsys)
    assert code != 0, lines


@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_mutated_key_announcements_end_in_a_verdict(evidence: Evidence, data: st.DataObject,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """``key_events`` are read with the trust file before anything else (outside the bundle checks)."""
    bundle = copy.deepcopy(evidence.bundle)
    notes = bundle["key_events"]
    which = data.draw(st.integers(0, len(notes) - 1))
    lines = notes[which].split("\n")
    at = data.draw(st.integers(0, len(lines) - 1))
    lines[at] = data.draw(st.sampled_from([lines[at][: len(lines[at]) // 2], lines[at] + "+", "", "\ud800",
                                           "lgsp-key-change-at 2026-02-30T00:00:00.000000Z",
                                           "lgsp-retire-key " + evidence.log_vkey, "— x AAAAAAA"]))
    notes[which] = "\n".join(lines)
    if data.draw(st.booleans()):
        notes.append(data.draw(_json_values(evidence)))
    trust = json.dumps(evidence.trust).encode()
    _run(evidence, bundle, trust, None, capsys)
    code, out = _run(evidence, _tampered(bundle), trust, None, capsys)
    assert code != 0, out



def test_a_retirement_time_spelled_otherwise_is_refused_not_misread(evidence: Evidence,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``retired_at`` is compared as text with the heads' timestamps: "2026-12-08t00:00…" sorts after every
    head of that day, so the old verifier accepted a head of the first key dated after the retirement the
    auditor wrote down. Any other spelling than the heads' one is now an unreadable trust file (exit 2)."""
    bundle = copy.deepcopy(evidence.bundle)
    del bundle["key_events"]
    first = bundle["heads"][0]
    day = first["timestamp"][:10]
    trust = copy.deepcopy(evidence.trust)
    trust["log_keys"] = [dict(trust["log_keys"][0], retired_at=f"{day}t00:00:00.000000z"),
                         *[{k: v for k, v in key.items() if k != "retired_at"} for key in bundle["keys"]
                           if key["key_id"] != first["key_id"]]]
    code, lines = _run(evidence, bundle, json.dumps(trust).encode(), None, capsys)
    assert code == 2 and "retired_at must be" in lines[0], lines
    trust["log_keys"][0]["retired_at"] = f"{day}T00:00:00.000000Z"  # the same instant, spelled right
    code, lines = _run(evidence, bundle, json.dumps(trust).encode(), None, capsys)
    assert code == 1 and any("was retired" in line for line in lines), lines
