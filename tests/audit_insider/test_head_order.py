"""Heads' timestamps never decrease with tree size: honest logs keep it, a head backdated with a retired key fails.

The store side: a head is signed under the lock that orders stored heads, never dated before the newest
one, even when another host's clock is ahead or two processes sign at once. The verifier side: a head
dated before a smaller head (stored, in a bundle, or kept in the auditor's state file) fails, naming both.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, insert

from lgsp.audit.evidence import audit_store, export_bundle
from lgsp.audit.heads import HeadService
from lgsp.audit.keys import retire_key, rotate_key
from lgsp.audit.merkle import range_hash
from lgsp.audit.models import AuditHead
from lgsp.audit.sth import LogSigner, SignedTreeHead
from lgsp.audit.trust import AuditState, TrustFile

from .conftest import Store

ORIGIN = "lgsp.test/audit"
ROOT = Path(__file__).resolve().parents[2]


class HostClockAhead(LogSigner):
    """The log key as used by a gateway on another host whose clock runs an hour ahead (a real signature)."""

    def sign_head(self, tree_size: int, root_hash: bytes, when: datetime | None = None) -> SignedTreeHead:
        return super().sign_head(tree_size, root_hash, (when or datetime.now(UTC)) + timedelta(hours=1))


def _timestamps(store: Store) -> list[tuple[int, str]]:
    return [(h.tree_size, h.timestamp) for h in store.heads.iter_all()]


def test_a_larger_head_is_never_dated_before_one_stored_by_a_host_whose_clock_is_ahead(store: Store) -> None:
    ahead = HeadService(store.engine, store.settings)
    real = store.heads.signer
    ahead._signer = HostClockAhead(real.private_key)
    ahead._signer_stamp = Path(store.settings.audit_log_key_file).stat().st_mtime_ns
    store.write(10)
    first = ahead.sign(force=True)
    store.write(5)
    second = store.heads.sign(force=True)  # this host's clock is an hour behind the first head
    assert first is not None and second is not None and second.tree_size == 15
    assert second.timestamp >= first.timestamp, _timestamps(store)
    report = audit_store(store.engine, store.heads, None, None)
    assert report.passed, [c.detail for c in report.failures]


_CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from lgsp.audit.heads import HeadService
from lgsp.audit.writer import write_batch
from lgsp.store.db import make_engine
from tests.audit_log.conftest import entries, make_settings
url, tmp, me, rounds = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
engine = make_engine(url)
heads = HeadService(engine, make_settings(url, tmp))
heads.signer
(tmp / f"ready-{{me}}").touch()
while not all((tmp / f"ready-{{n}}").exists() for n in ("a", "b")):
    time.sleep(0.01)
signed = 0
for _ in range(rounds):
    write_batch(engine, entries(2))
    if heads.sign(force=True) is not None:
        signed += 1
print(signed)
"""


def test_two_processes_signing_at_once_keep_the_heads_in_order(store: Store, tmp_path: Path) -> None:
    """Two real processes append and sign heads at the same time, many rounds; the log verifies in order."""
    _ = store.heads.signer  # the key exists before the processes start, so both use it
    script = tmp_path / "child.py"
    script.write_text(_CHILD.format(root=str(ROOT)))
    children = [subprocess.Popen([sys.executable, str(script), store.url, str(tmp_path), me, "40"],
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for me in ("a", "b")]
    outputs = [child.communicate(timeout=120) for child in children]
    assert [c.returncode for c in children] == [0, 0], outputs
    heads = _timestamps(store)
    assert len(heads) >= 20, heads  # 80 appends, each followed by a sign (some None: the other holds the lock)
    assert [t for _, t in heads] == sorted(t for _, t in heads), heads
    report = audit_store(store.engine, store.heads, None, None)
    assert report.passed, [c.detail for c in report.failures]
    assert any(c.name == "head order" and c.ok for c in report.checks)


def _rotated_and_retired(store: Store, tmp_path: Path) -> tuple[Store, dict[str, object], LogSigner, Path]:
    """Heads 10 (key 1), 20 and 25 (key 2, after key 1's retirement); the auditor verified 25 (state file)."""
    settings = dataclasses.replace(store.settings, audit_checkpoint_origin=ORIGIN)
    s = dataclasses.replace(store, settings=settings, heads=HeadService(store.engine, settings))
    s.write(10)
    s.heads.sign(force=True)
    trust = TrustFile(ORIGIN, s.heads.keyring(), [], 0).to_json()  # pins key 1; no witnesses (quorum 0)
    retired = s.heads.signer
    rotate_key(s.heads)
    s.write(10)
    s.heads.sign(force=True)
    retire_key(s.heads, retired.key_id)
    s.write(5)
    s.heads.sign(force=True)
    state = tmp_path / "state.json"
    report = audit_store(s.engine, s.heads, TrustFile.from_json(trust), AuditState.load(state))
    assert report.passed, [c.detail for c in report.failures]
    return s, trust, retired, state


def _backdate(s: Store, retired: LogSigner, size: int) -> SignedTreeHead:
    """The insider's head: over the (rewritten) log, signed with the retired key, dated in its validity window."""
    s.write(size - s.heads.tree.size())
    root = range_hash(s.heads.tree, 0, size)
    first = s.heads.by_size(10)
    assert first is not None
    when = datetime.strptime(first.timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) + timedelta(microseconds=1)
    head = retired.sign_head(size, root, when)
    with s.engine.begin() as conn:
        conn.execute(insert(AuditHead).values(tree_size=size, root_hash=head.root_hash, timestamp=head.timestamp,
                                              key_id=head.key_id, signature=head.signature))
    return head


def test_a_head_backdated_with_a_retired_key_fails_both_verifiers(store: Store, tmp_path: Path) -> None:
    s, trust, retired, state = _rotated_and_retired(store, tmp_path)
    forged = _backdate(s, retired, 30)
    report = audit_store(s.engine, s.heads, TrustFile.from_json(trust), AuditState.load(state))
    failed = [c for c in report.failures if c.name == "head 30"]
    assert failed and "before head of smaller size 25" in failed[0].detail and forged.timestamp in failed[0].detail, \
        report.failures
    # offline: the bundle with the forged head, checked with the same trust and state files
    (tmp_path / "trust.json").write_text(json.dumps(trust))
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(export_bundle(s.engine, s.heads, 0, None)))
    result = subprocess.run([sys.executable, "-m", "lgsp.audit.offline_verify", str(bundle), "--trust",
                             str(tmp_path / "trust.json"), "--state", str(state), "--quiet"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL head 30: head of size 30 is dated" in result.stdout and "size 25" in result.stdout, result.stdout


def test_the_state_file_catches_a_backdated_head_after_the_genuine_heads_were_deleted(
        store: Store, tmp_path: Path) -> None:
    s, trust, retired, state = _rotated_and_retired(store, tmp_path)
    _backdate(s, retired, 30)
    with s.engine.begin() as conn:
        conn.execute(delete(AuditHead).where(AuditHead.tree_size.in_([20, 25])))
    report = audit_store(s.engine, s.heads, TrustFile.from_json(trust), AuditState.load(state))
    failed = [c.detail for c in report.failures if c.name == "head 30"]
    assert failed and "before known head of smaller size 25" in failed[0], report.failures
