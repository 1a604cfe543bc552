"""Log-key rotation and retirement, announced in checkpoints that witnesses and verifiers follow.

Why announce in a checkpoint instead of just editing ``audit_log_keys``: anyone with database access
can add a key to that table, so a verifier must never trust a key because the store lists it. A
rotation is instead a C2SP checkpoint of the current head with two extension lines —
``lgsp-next-key <new verifier key>`` and ``lgsp-key-change-at <RFC 3339 time>`` — signed by the
*outgoing* key (which the auditor already trusts) and by the new key (proving it is held). The
witnesses cosign it only if the outgoing key is one they trust, and from then on trust the new key
and no longer the old one; verifiers extend their pinned ring the same way, retiring the old key at
the announced time (heads it signs later are refused). Retiring a key without a successor is a
checkpoint with ``lgsp-retire-key <verifier key>`` signed by another trusted key.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, update

from lgsp.audit.canonical import format_time
from lgsp.audit.checkpoints import checkpoint_of, send_checkpoint
from lgsp.audit.heads import HeadService
from lgsp.audit.models import AuditKeyEvent, AuditLogKey
from lgsp.audit.note import KEY_CHANGE_AT_EXTENSION, NEXT_KEY_EXTENSION, RETIRE_KEY_EXTENSION
from lgsp.audit.sth import LogSigner, SignedTreeHead
from lgsp.store.db import writer

__all__ = ["KeyChangeError", "key_events", "retire_key", "rotate_key"]


class KeyChangeError(ValueError):
    """The rotation or retirement cannot be done (no head yet, unknown key, last key, ...)."""


def _head_now(service: HeadService) -> SignedTreeHead:
    for _ in range(100):
        head = service.sign(force=True)
        if head is not None:
            return head
    raise KeyChangeError("could not sign a head (another process holds the signing lock)")


def rotate_key(service: HeadService) -> tuple[LogSigner, str, dict[str, str]]:
    """Replace the log key: announce the successor, keep the old key file as ``<file>.<id16>.retired``.

    Returns the new signer, the announcement note (with the witnesses' cosignatures) and each
    witness's outcome. Gateways pick the new key file up at their next head (the file is re-read
    when it changes).
    """
    old = service.signer
    head = _head_now(service)
    from lgsp.keys.audit import new_log_key  # ops (17.2): the successor lives in the key store, not in plain

    new_ref, new = new_log_key(service.settings)
    origin = service.settings.audit_checkpoint_origin
    when = format_time(datetime.now(UTC))
    extensions = (NEXT_KEY_EXTENSION + new.public.note_verifier(origin).vkey(), KEY_CHANGE_AT_EXTENSION + when)
    text = checkpoint_of(head, origin, extensions).text()
    note = text + "\n" + old.note_signer(origin).signature_line(text) + new.note_signer(origin).signature_line(text)
    lines, outcomes = send_checkpoint(service, head, note, text)
    path = Path(service.settings.audit_log_key_file)
    os.replace(path, path.with_name(f"{path.name}.{old.key_id[:16]}.retired"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(new_ref + "\n")
    service.register_key(new.public)
    with writer(service.engine).begin() as conn:
        conn.execute(insert(AuditKeyEvent).values(
            kind="rotate", old_key_id=old.key_id, new_key_id=new.key_id, tree_size=head.tree_size,
            note=note + "".join(line + "\n" for line in lines), created_at=when))
    service.reload_signer()
    return new, note, outcomes


def retire_key(service: HeadService, key_id: str) -> tuple[str, dict[str, str]]:
    """Stop trusting ``key_id`` from now on (announced by the current key, which must be another)."""
    current = service.signer
    if key_id == current.key_id:
        raise KeyChangeError("cannot retire the current signing key: rotate it instead")
    ring = service.keyring()
    if key_id not in ring:
        raise KeyChangeError(f"no log key {key_id}")
    origin = service.settings.audit_checkpoint_origin
    head = _head_now(service)
    when = format_time(datetime.now(UTC))
    retired = ring.get(key_id).note_verifier(origin).vkey()
    extensions = (RETIRE_KEY_EXTENSION + retired, KEY_CHANGE_AT_EXTENSION + when)
    text = checkpoint_of(head, origin, extensions).text()
    note = text + "\n" + current.note_signer(origin).signature_line(text)
    lines, outcomes = send_checkpoint(service, head, note, text)
    with writer(service.engine).begin() as conn:
        conn.execute(update(AuditLogKey).where(AuditLogKey.key_id == key_id).values(retired_at=when))
        conn.execute(insert(AuditKeyEvent).values(
            kind="retire", old_key_id=key_id, new_key_id=None, tree_size=head.tree_size,
            note=note + "".join(line + "\n" for line in lines), created_at=when))
    return note, outcomes


def key_events(service: HeadService) -> list[str]:
    """The stored announcement notes, oldest first (bundles carry them; verifiers follow them)."""
    with service.engine.connect() as conn:
        return [row.note for row in conn.execute(select(AuditKeyEvent.note).order_by(AuditKeyEvent.id))]
