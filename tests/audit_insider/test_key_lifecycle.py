"""Log-key rotation and retirement: announced by the old key, followed by witnesses and both verifiers."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, update

from lgsp.audit.canonical import format_time
from lgsp.audit.checkpoints import checkpoint_of, signed_checkpoint, witness_head
from lgsp.audit.evidence import audit_store, export_bundle
from lgsp.audit.heads import HeadService
from lgsp.audit.keys import retire_key, rotate_key
from lgsp.audit.merkle import range_hash
from lgsp.audit.models import AuditHead, AuditKeyEvent
from lgsp.audit.note import KEY_CHANGE_AT_EXTENSION, NEXT_KEY_EXTENSION
from lgsp.audit.offline_verify import main
from lgsp.audit.sth import LogSigner
from lgsp.audit.trust import AuditState, TrustFile

from .conftest import Store
from .witnesses import ORIGIN, trust_json, two_witnesses


def test_rotation_is_followed_by_witnesses_and_verifiers(store: Store, tmp_path: Path) -> None:
    with two_witnesses(store, tmp_path) as (s, witnesses):
        s.write(20)
        s.heads.sign(force=True)
        trust = trust_json(s, witnesses)  # pins the first key only
        old = s.heads.signer
        new, _note, outcomes = rotate_key(s.heads)
        assert set(outcomes.values()) == {"cosigned"}, outcomes
        assert s.heads.signer.key_id == new.key_id != old.key_id
        s.write(20)
        head = s.heads.sign(force=True)
        assert head is not None and head.key_id == new.key_id
        for w in witnesses:
            assert w.witness.store.latest(ORIGIN) == (40, head.root_hash)  # they trust the new key
        report = audit_store(s.engine, s.heads, TrustFile.from_json(trust), AuditState.load(tmp_path / "st.json"))
        assert report.passed, [c.detail for c in report.failures]
        assert any(c.name == "key event #0" and c.ok for c in report.checks)
        bundle = tmp_path / "b.json"
        bundle.write_text(json.dumps(export_bundle(s.engine, s.heads, 0, None)))
        (tmp_path / "trust.json").write_text(json.dumps(trust))
        assert main([str(bundle), "--trust", str(tmp_path / "trust.json"), "--quiet"]) == 0

        # once retired, the old key can no longer sign: witnesses refuse it, verifiers refuse its later heads
        _note, retired = retire_key(s.heads, old.key_id)
        assert set(retired.values()) == {"cosigned"}, retired
        late = old.sign_head(40, head.root_hash)
        outcome = witness_head(s.heads, late, signed_checkpoint(old, ORIGIN, late))
        assert all("403" in v for v in outcome.values()), outcome
        with s.engine.begin() as conn:
            conn.execute(update(AuditHead).where(AuditHead.tree_size == 40).values(
                key_id=late.key_id, signature=late.signature, timestamp=late.timestamp))
        report = audit_store(s.engine, s.heads, TrustFile.from_json(trust), None)
        assert any("retired" in c.detail and c.name == "head 40" for c in report.failures), report.failures


def test_a_key_announced_by_an_untrusted_key_is_not_followed(store: Store, tmp_path: Path) -> None:
    with two_witnesses(store, tmp_path) as (s, witnesses):
        s.write(20)
        s.heads.sign(force=True)
        trust = trust_json(s, witnesses)
        # the insider swaps the key file for their own and "rotates" from it
        Path(s.settings.audit_log_key_file).write_bytes(LogSigner.generate().private_pem())
        s.heads.reload_signer()
        _new, _note, outcomes = rotate_key(s.heads)
        assert all("403" in v for v in outcomes.values()), outcomes  # witnesses do not know the announcer
        s.write(5)
        s.heads.sign(force=True)
        report = audit_store(s.engine, s.heads, TrustFile.from_json(trust), None)
        failed = " | ".join(c.detail for c in report.failures)
        assert "not followed" in failed and "unknown key" in failed, failed


def test_retiring_a_key_is_announced_by_the_current_one(store: Store, tmp_path: Path) -> None:
    with two_witnesses(store, tmp_path) as (s, witnesses):
        s.write(10)
        s.heads.sign(force=True)
        trust = trust_json(s, witnesses)
        first = s.heads.signer
        rotate_key(s.heads)
        _note, outcomes = retire_key(s.heads, first.key_id)
        assert set(outcomes.values()) == {"cosigned"}, outcomes
        report = audit_store(s.engine, s.heads, TrustFile.from_json(trust), None)
        assert report.passed, [c.detail for c in report.failures]
        assert any(c.name == "key event #1" and "retired" in c.detail for c in report.checks)


def test_a_retired_key_announced_again_as_the_next_key_stays_retired(store: Store) -> None:
    """Re-announcing a retired key as a 'successor' used to reset its retirement in the verifiers' ring
    (the witnesses kept it retired): heads it signed after the retirement then passed again."""
    settings = dataclasses.replace(store.settings, audit_checkpoint_origin=ORIGIN)
    s = dataclasses.replace(store, settings=settings, heads=HeadService(store.engine, settings))
    s.write(10)
    s.heads.sign(force=True)
    trust = TrustFile(ORIGIN, s.heads.keyring(), [], 0).to_json()  # pins the first key; no witnesses
    first = s.heads.signer
    current, _note, _ = rotate_key(s.heads)
    retire_key(s.heads, first.key_id)
    head = s.heads.sign(force=True)
    assert head is not None
    when = format_time(datetime.now(UTC))
    text = checkpoint_of(head, ORIGIN, (NEXT_KEY_EXTENSION + first.public.note_verifier(ORIGIN).vkey(),
                                        KEY_CHANGE_AT_EXTENSION + when)).text()
    note = (text + "\n" + current.note_signer(ORIGIN).signature_line(text)
            + first.note_signer(ORIGIN).signature_line(text))
    s.write(5)
    late = first.sign_head(s.heads.tree.size(), range_hash(s.heads.tree, 0, s.heads.tree.size()))
    with s.engine.begin() as conn:
        conn.execute(insert(AuditKeyEvent).values(kind="rotate", old_key_id=current.key_id, new_key_id=first.key_id,
                                                  tree_size=head.tree_size, note=note, created_at=when))
        conn.execute(insert(AuditHead).values(tree_size=late.tree_size, root_hash=late.root_hash,
                                              timestamp=late.timestamp, key_id=late.key_id, signature=late.signature))
    report = audit_store(s.engine, s.heads, TrustFile.from_json(trust), None)
    assert any(c.name == f"head {late.tree_size}" and "retired" in c.detail for c in report.failures), report.checks
