"""Export bundles built from the SQL store, verified offline; each kind of tampering is caught.

Every tampering is done the way an attacker would: by editing the bundle's JSON (or the SQL store
before export), then running the real verifier and the real `lgsp-audit-verify` entry point.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, update

from lgsp.audit.bundle import BundleError, build_bundle, build_consistency, build_receipt, verify_bundle
from lgsp.audit.merkle import consistency_proof, leaf_hash, root_hash
from lgsp.audit.offline_verify import main
from lgsp.audit.sth import LogKeyRing, LogSigner, SignedTreeHead
from lgsp.audit.tree_store import AuditTreeNode, MemoryTreeStore, SqlTreeStore

from .factories import SampleLog


def _log(store: SqlTreeStore | MemoryTreeStore) -> SampleLog:
    log = SampleLog(store)
    for batch in (10, 15, 15):  # heads at 10, 25, 40
        log.append(batch)
        log.sign_head()
    return log


@pytest.fixture(scope="module")
def sql_log(shared_engine: Engine) -> SampleLog:
    """One log per database for the module; tests never write to its store."""
    return _log(SqlTreeStore(shared_engine))


@pytest.fixture(scope="module")
def _bundle(sql_log: SampleLog) -> dict[str, Any]:
    return build_bundle(sql_log.entries, sql_log.heads, sql_log.store, sql_log.keyring, signer=sql_log.signer)


@pytest.fixture
def bundle(_bundle: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(_bundle)


def _write(tmp_path: Path, data: Any, name: str = "bundle.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


def _failed(report: Any) -> str:
    return " | ".join(f"{c.name}: {c.detail}" for c in report.failures)


def test_untouched_bundle_verifies_in_process_and_through_the_cli(
    bundle: dict[str, Any], sql_log: SampleLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = verify_bundle(json.loads(json.dumps(bundle)), trusted_keys=sql_log.keyring)
    assert report.passed, _failed(report)
    assert (report.entries_verified, report.heads_verified) == (40, 3)
    keys = _write(tmp_path, sql_log.keyring.to_json(), "keys.json")
    assert main([str(_write(tmp_path, bundle)), "--trusted-keys", str(keys)]) == 0
    assert "VERIFIED: 40 entries, 3 signed heads" in capsys.readouterr().out


def _swap(entries: list[Any], i: int, j: int) -> None:
    entries[i], entries[j] = entries[j], entries[i]


def _forge_head_root(b: dict[str, Any]) -> None:
    b["heads"][1]["root_hash"] = "ab" * 32


def _flip_signature(b: dict[str, Any]) -> None:
    sig = bytearray(base64.b64decode(b["heads"][0]["signature"]))
    sig[0] ^= 1
    b["heads"][0]["signature"] = base64.b64encode(bytes(sig)).decode()


def _resign_with_stranger(b: dict[str, Any]) -> None:
    """An operator rewrites the log, signs with a new key and ships that key inside the bundle."""
    stranger = LogSigner.generate()
    head = SignedTreeHead.from_json(b["heads"][2])
    b["heads"][2] = stranger.sign_head(head.tree_size, head.root_hash).to_json()
    b["keys"].append(stranger.public.to_json())


def _wrong_index_proof(b: dict[str, Any]) -> None:
    b["entries"][6]["inclusion"] = copy.deepcopy(b["entries"][5]["inclusion"])


def _bad_consistency(b: dict[str, Any]) -> None:
    proof = b["consistency"][0]["proof"]
    proof[-1] = ("0" if proof[-1][0] != "0" else "1") + proof[-1][1:]


TAMPERINGS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "tampered entry",
        lambda b: b["entries"][7]["entry"].update(status=200 if b["entries"][7]["entry"]["status"] != 200 else 500),
        "entry 7: not in the signed log",
    ),
    (
        "tampered extra",
        lambda b: b["entries"][3]["entry"]["extra"].update(node="gw-9"),
        "entry 3: not in the signed log",
    ),
    ("deleted entry", lambda b: b["entries"].pop(12), "1 entr(y/ies) missing from [0, 40): [12, 13)"),
    ("reordered entries", lambda b: _swap(b["entries"], 3, 4), "entries out of order: index 3 after 4"),
    ("renumbered entry", lambda b: b["entries"][9]["entry"].update(index=39), "entries out of order"),
    ("forged head root", _forge_head_root, "signature on head of size 25 does not verify"),
    ("forged head signature", _flip_signature, "signature on head of size 10 does not verify"),
    ("head from unknown key", _resign_with_stranger, "head signed by unknown key"),
    ("consistency proof mismatch", _bad_consistency, "consistency 10→25: the log was rewritten"),
    (
        "missing consistency proof",
        lambda b: b["consistency"].pop(1),
        "consistency 25→40: no consistency proof",
    ),
    ("inclusion proof for wrong index", _wrong_index_proof, "entry 6: not in the signed log"),
    (
        "proof against absent head",
        lambda b: b["entries"][2]["inclusion"].update(tree_size=39),
        "no valid head has that size",
    ),
    (
        "unknown entry field",
        lambda b: b["entries"][1]["entry"].update(body="x"),
        "entry #1: malformed: unknown field",
    ),
    ("wrong format", lambda b: b.update(version=1), "not an lgsp-audit-bundle v2 file"),
]


@pytest.mark.parametrize(("what", "tamper", "expected"), TAMPERINGS, ids=[t[0] for t in TAMPERINGS])
def test_each_tampering_is_detected(
    what: str,
    tamper: Callable[[dict[str, Any]], None],
    expected: str,
    bundle: dict[str, Any],
    sql_log: SampleLog,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    forged = copy.deepcopy(bundle)
    tamper(forged)
    report = verify_bundle(forged, trusted_keys=sql_log.keyring)
    assert not report.passed, what
    assert expected in _failed(report), _failed(report)
    keys = _write(tmp_path, sql_log.keyring.to_json(), "keys.json")
    assert main([str(_write(tmp_path, forged)), "--trusted-keys", str(keys), "--quiet"]) == 1
    assert "NOT VERIFIED" in capsys.readouterr().out


def test_without_pinned_keys_a_stranger_key_shipped_in_the_bundle_is_flagged(bundle: dict[str, Any]) -> None:
    """With no --trusted-keys the verifier can only use the bundle's keys, and says so."""
    forged = copy.deepcopy(bundle)
    _resign_with_stranger(forged)
    report = verify_bundle(forged)
    assert report.passed  # self-consistent forgery...
    note = next(c for c in report.checks if c.name == "keys")
    assert note.ok is None and "compare these key ids" in note.detail  # ...so the key ids are shown


def test_rewritten_history_cannot_be_reconciled_with_a_head_held_earlier(engine: Engine) -> None:
    """An insider edits entry 3 in the store, rebuilds the tree and signs a fresh head with the real key.

    The new head verifies on its own, but the auditor kept the head of size 10 from before: no
    consistency proof from the rebuilt tree can connect it to the rewritten one.
    """
    log = _log(SqlTreeStore(engine))
    held = log.heads[0]  # the auditor's receipt from earlier
    rewritten = MemoryTreeStore(
        [
            leaf_hash(b"edited entry 3") if i == 3 else h
            for i, h in enumerate(log.store.get_nodes([(0, i) for i in range(40)]))
        ]
    )
    new_head = log.signer.sign_head(40, root_hash(rewritten, 40))
    log.keyring.verify(new_head)
    forged = build_bundle(log.entries[:0], [held, new_head], rewritten, log.keyring, signer=log.signer)
    report = verify_bundle(forged, trusted_keys=log.keyring)
    assert "consistency 10→40: the log was rewritten" in _failed(report)


def test_tampering_in_the_sql_store_shows_up_in_the_export(engine: Engine) -> None:
    """Overwriting stored node hashes after heads were signed makes the exported proofs fail."""
    log = _log(SqlTreeStore(engine))
    with engine.begin() as conn:  # leaves 16..23 = perfect subtree (level 3, index 2)
        conn.execute(
            update(AuditTreeNode).where(AuditTreeNode.level == 3, AuditTreeNode.idx == 2).values(hash=leaf_hash(b"x"))
        )
    report = verify_bundle(build_bundle(log.entries, log.heads, log.store, log.keyring, signer=log.signer), log.keyring)
    failed = _failed(report)
    assert "entry 24: not in the signed log" in failed  # its audit path uses that subtree
    assert "entry 16:" not in failed  # whose own leaves are untouched
    assert "consistency 10→25: the log was rewritten" in failed


def test_receipt_for_one_entry_verifies_and_says_it_is_partial(sql_log: SampleLog) -> None:
    receipt = build_receipt(sql_log.entries[17], sql_log.heads[-1], sql_log.store, sql_log.keyring,
                            signer=sql_log.signer)
    report = verify_bundle(receipt, trusted_keys=sql_log.keyring)
    assert report.passed, _failed(report)
    assert report.entries_verified == 1
    receipt["entries"][0]["entry"]["user_id"] = "someone else"
    assert not verify_bundle(receipt, trusted_keys=sql_log.keyring).passed


def test_bundle_needs_a_head_covering_every_entry(sql_log: SampleLog) -> None:
    with pytest.raises(BundleError, match="not covered by the latest head"):
        build_bundle(sql_log.entries, sql_log.heads[:2], sql_log.store, sql_log.keyring, signer=sql_log.signer)
    with pytest.raises(BundleError, match="at least one signed head"):
        build_bundle(sql_log.entries, [], sql_log.store, sql_log.keyring, signer=sql_log.signer)


def test_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main([str(bad)]) == 2
    assert main([str(tmp_path / "absent.json")]) == 2
    assert "cannot read input" in capsys.readouterr().out


def test_json_report_for_machines(bundle: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(_write(tmp_path, bundle)), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["passed"] is True and out["entries_verified"] == 40


def test_export_of_a_middle_range_with_progress(sql_log: SampleLog) -> None:
    seen: list[int] = []
    part = build_bundle(sql_log.entries[12:30], sql_log.heads, sql_log.store, sql_log.keyring, progress=seen.append,
                        signer=sql_log.signer)
    assert seen == list(range(1, 19))
    assert part["selection"] == {"from": 12, "to": 30, "filter": None}
    report = verify_bundle(part, trusted_keys=sql_log.keyring)
    assert report.passed, _failed(report)
    # consistency proofs are what tie the heads together
    proof = consistency_proof(sql_log.store, 10, 25)
    assert part["consistency"][0]["proof"] == [h.hex() for h in proof]


def test_filtered_export_is_verified_but_marked_incomplete(sql_log: SampleLog) -> None:
    mine = [e for e in sql_log.entries if e["user_id"] == "cb-3"]
    part = build_bundle(
        mine, sql_log.heads, sql_log.store, sql_log.keyring, selection=(0, 40), filters={"user_id": "cb-3"},
        signer=sql_log.signer,
    )
    report = verify_bundle(part, trusted_keys=LogKeyRing(sql_log.keyring.keys), allow_incomplete=True)
    assert report.passed, _failed(report)
    note = next(c for c in report.checks if c.name == "selection")
    assert note.ok is None and "not provable" in note.detail


def test_auditor_checks_a_kept_receipt_against_a_later_consistency_file(
    sql_log: SampleLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Receipt kept at size 10; later the log is at 40: the head kept must be a prefix of it."""
    receipt = build_receipt(sql_log.entries[4], sql_log.heads[0], sql_log.store, sql_log.keyring, signer=sql_log.signer)
    later = build_consistency(sql_log.heads[0], sql_log.heads[2], sql_log.store, sql_log.keyring, signer=sql_log.signer)
    keys = _write(tmp_path, sql_log.keyring.to_json(), "keys.json")
    kept = _write(tmp_path, receipt, "receipt.json")
    args = ["--trusted-keys", str(keys), "--known-head", str(kept)]
    assert main([str(_write(tmp_path, later, "consistency.json")), *args]) == 0
    assert "the head you kept is part of this log" in capsys.readouterr().out

    # the operator rewrites entry 3, rebuilds the tree and re-signs heads with the genuine key
    leaves = sql_log.store.get_nodes([(0, i) for i in range(40)])
    leaves[3] = leaf_hash(b"edited entry 3")
    rewritten = MemoryTreeStore(leaves)
    fake10 = sql_log.signer.sign_head(10, root_hash(rewritten, 10))
    fake40 = sql_log.signer.sign_head(40, root_hash(rewritten, 40))
    forged = build_consistency(fake10, fake40, rewritten, sql_log.keyring, signer=sql_log.signer)
    assert verify_bundle(forged, trusted_keys=sql_log.keyring).passed  # fine on its own...
    assert main([str(_write(tmp_path, forged, "forged.json")), *args]) == 1  # ...but not with the receipt
    assert "history was rewritten" in capsys.readouterr().out
    only_new = build_bundle([], [fake40], rewritten, sql_log.keyring, signer=sql_log.signer)
    report = verify_bundle(only_new, trusted_keys=sql_log.keyring, known_heads=[sql_log.heads[0]])
    assert "no verified head of size 10" in _failed(report)


@pytest.fixture(scope="module")
def range_bundle(sql_log: SampleLog) -> dict[str, Any]:
    return build_bundle(sql_log.entries[5:33], sql_log.heads, sql_log.store, sql_log.keyring, proofs="range",
                        signer=sql_log.signer)


def test_range_proof_bundle_is_small_and_verifies(range_bundle: dict[str, Any], sql_log: SampleLog) -> None:
    assert all("inclusion" not in item for item in range_bundle["entries"])
    rp = range_bundle["range_proof"]
    assert (rp["from"], rp["to"], rp["tree_size"]) == (5, 33, 40)
    assert len(rp["left"]) + len(rp["right"]) <= 2 * 6
    report = verify_bundle(json.loads(json.dumps(range_bundle)), trusted_keys=sql_log.keyring)
    assert report.passed, _failed(report)
    assert report.entries_verified == 28


RANGE_TAMPERINGS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("tampered entry", lambda b: b["entries"][4]["entry"].update(path="/elsewhere"), "do not rebuild the root"),
    ("deleted entry", lambda b: b["entries"].pop(10), "not exactly [5, 33)"),
    ("reordered entries", lambda b: _swap(b["entries"], 1, 2), "entries out of order"),
    ("forged outer hash", lambda b: b["range_proof"]["left"].__setitem__(0, "00" * 32), "do not rebuild the root"),
    ("wrong head", lambda b: b["range_proof"].update(tree_size=25), "28 leaves at 5 do not fit in a tree of size 25"),
    ("proof removed", lambda b: b.pop("range_proof"), "malformed: missing 'inclusion'"),
]


@pytest.mark.parametrize(("what", "tamper", "expected"), RANGE_TAMPERINGS, ids=[t[0] for t in RANGE_TAMPERINGS])
def test_each_tampering_of_a_range_bundle_is_detected(
    what: str,
    tamper: Callable[[dict[str, Any]], None],
    expected: str,
    range_bundle: dict[str, Any],
    sql_log: SampleLog,
) -> None:
    forged = copy.deepcopy(range_bundle)
    tamper(forged)
    report = verify_bundle(forged, trusted_keys=sql_log.keyring)
    assert not report.passed, what
    assert expected in _failed(report), _failed(report)


def test_range_proofs_refuse_filters_and_gaps(sql_log: SampleLog) -> None:
    with pytest.raises(BundleError, match="not possible with a filter"):
        build_bundle(sql_log.entries, sql_log.heads, sql_log.store, sql_log.keyring, proofs="range", filters={"x": 1})
    gappy = sql_log.entries[:3] + sql_log.entries[4:8]
    with pytest.raises(BundleError, match="consecutive entries: got 4, expected 3"):
        build_bundle(gappy, sql_log.heads, sql_log.store, sql_log.keyring, proofs="range")


def test_offline_verifier_does_not_even_import_a_database_layer(tmp_path: Path, bundle: dict[str, Any]) -> None:
    """`lgsp-audit-verify` must run where only the bundle is: no SQLAlchemy, no driver, no settings."""
    import subprocess
    import sys

    path = _write(tmp_path, bundle)
    code = (
        "import sys; from lgsp.audit.offline_verify import main; rc = main([sys.argv[1], '--quiet']); "
        "loaded = [m for m in ('sqlalchemy', 'psycopg', 'sqlite3', 'httpx', 'aiohttp') if m in sys.modules]; "
        "print('LOADED', loaded); sys.exit(rc)"
    )
    env = {"PATH": "/usr/bin:/bin", "LGSP_DATABASE_URL": "postgresql://nowhere.invalid/none"}
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "LOADED []" in done.stdout
