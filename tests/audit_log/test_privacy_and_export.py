"""Redaction and retention drop bodies only (proofs keep verifying); exports with filters and formats."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from lgsp.audit.bundle import verify_bundle
from lgsp.audit.evidence import export_bundle, receipt_for, verify_store
from lgsp.audit.heads import apply_retention, redact_bodies
from lgsp.audit.models import AuditBody, AuditEntry, AuditHead

from .conftest import Store


def bodies(store: Store) -> dict[int, tuple[bytes | None, bytes | None]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(AuditBody.idx, AuditBody.request_body, AuditBody.response_body))
        return {r.idx: (r.request_body, r.response_body) for r in rows}


def test_redaction_and_retention_keep_entries_heads_and_proofs(store: Store) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    store.write(10, start_time=old)
    store.write(10)
    head = store.heads.sign(force=True)
    assert head is not None
    ring = store.heads.keyring()
    receipt_before = receipt_for(store.engine, store.heads, 12)

    assert redact_bodies(store.engine, 12) and not redact_bodies(store.engine, 999)
    assert bodies(store)[12] == (None, None) and bodies(store)[13] == (b"req", b"resp")
    assert apply_retention(store.engine, 30) == 10
    assert set(bodies(store)) == set(range(10, 20))  # only the old ones went

    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditEntry)).scalar() == 20
        assert conn.execute(select(func.count()).select_from(AuditHead)).scalar() == 1
    receipt_after = receipt_for(store.engine, store.heads, 12)
    assert receipt_after["entries"] == receipt_before["entries"]
    assert verify_bundle(receipt_after, trusted_keys=ring).passed
    assert verify_bundle(export_bundle(store.engine, store.heads, 0, None), trusted_keys=ring).passed
    assert verify_store(store.engine, store.heads).passed


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def cli(args: list[str], store: Store, cwd: Path) -> Result:
    """Run `lgsp audit ...` in-process (typer's runner) with the store's settings in the environment.

    In-process because each `python -m lgsp.cli` start costs seconds on a loaded host; the command
    code is the same, and the `lgsp serve` / offline-verifier tests cover real subprocesses.
    """
    from typer.testing import CliRunner

    from lgsp.audit.cli import app

    env = {"LGSP_DATABASE_URL": store.url, "COLUMNS": "200",
           "LGSP_AUDIT_LOG_KEY_FILE": store.settings.audit_log_key_file}
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, args[1:] if args[0] == "audit" else args, env=env)
    finally:
        os.chdir(old)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.output)


def test_cli_export_filters_formats_and_offline_verification(store: Store, tmp_path: Path) -> None:
    store.write(30)
    store.write(5, client="000.00.99.H10/OTHER", user_id="officer-7")
    keys = cli(["audit", "keys"], store, tmp_path)
    assert keys.returncode == 0
    (tmp_path / "keys.json").write_text(keys.stdout)

    # no head covers the log yet: export signs one on demand
    result = cli(["audit", "export", "--from", "10", "--to", "33", str(tmp_path / "b.json")], store, tmp_path)
    assert result.returncode == 0, result.stderr
    bundle = json.loads((tmp_path / "b.json").read_text())
    assert [e["entry"]["index"] for e in bundle["entries"]] == list(range(10, 33))
    verify = [sys.executable, "-m", "lgsp.audit.offline_verify"]
    ok = subprocess.run([*verify, str(tmp_path / "b.json"), "--trusted-keys", str(tmp_path / "keys.json")],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "VERIFIED: 23 entries" in ok.stdout

    result = cli(["audit", "export", "--user-id", "officer-7", "--status", "200", str(tmp_path / "f.json")],
                 store, tmp_path)
    assert result.returncode == 0, result.stderr
    filtered = json.loads((tmp_path / "f.json").read_text())
    assert {e["entry"]["user_id"] for e in filtered["entries"]} == {"officer-7"}
    assert filtered["selection"]["filter"] == {"user_id": "officer-7", "status": 200}
    assert verify_bundle(filtered, trusted_keys=store.heads.keyring(), allow_incomplete=True).passed

    result = cli(["audit", "export", "--format", "csv", "--client", "000.00.99.H10/OTHER", str(tmp_path / "l.csv")],
                 store, tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "l.csv").open(encoding="utf-8")))
    assert [int(r["index"]) for r in rows] == list(range(30, 35)) and rows[0]["leaf_hash"]

    since = datetime.now(UTC) - timedelta(hours=1)
    result = cli(["audit", "export", "--format", "json", "--since", since.strftime("%Y-%m-%dT%H:%M:%S"),
                  "--to", "3", "-"], store, tmp_path)
    assert result.returncode == 0, result.stderr
    assert [r["index"] for r in json.loads(result.stdout)] == [0, 1, 2]

    ranged = cli(["audit", "export", "--proofs", "range", str(tmp_path / "r.json")], store, tmp_path)
    assert ranged.returncode == 0, ranged.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert "range_proof" in data and verify_bundle(data, trusted_keys=store.heads.keyring()).passed
    data["entries"][3]["entry"]["status"] = 500
    assert not verify_bundle(data, trusted_keys=store.heads.keyring()).passed

    redact = cli(["audit", "redact", "4"], store, tmp_path)
    assert redact.returncode == 0 and "redacted" in redact.stdout
    retention = cli(["audit", "retention", "--older-than", "0"], store, tmp_path)
    assert retention.returncode == 0 and "dropped bodies of 35 entries" in retention.stdout
    final = cli(["audit", "verify"], store, tmp_path)
    assert final.returncode == 0 and "OK 35 entries" in final.stdout


def test_worker_jobs_apply_retention_and_sign_heads(store: Store, tmp_path: Path) -> None:
    from dataclasses import replace

    from lgsp.audit.jobs import audit_jobs

    store.write(4, start_time=datetime.now(UTC) - timedelta(days=10))
    store.write(2)
    assert audit_jobs(store.engine, store.settings) == []  # defaults: gateways sign, bodies kept
    settings = replace(store.settings, audit_body_retention_days=5, audit_heads_enabled=False)
    jobs = {job.name: job for job in audit_jobs(store.engine, settings)}
    assert set(jobs) == {"audit-body-retention", "audit-heads"}
    jobs["audit-body-retention"].run()
    assert set(bodies(store)) == {4, 5}
    jobs["audit-heads"].run()
    latest = store.heads.latest()
    assert latest is not None and latest.tree_size == 6
