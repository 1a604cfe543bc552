"""The audit-log key through the key interface: the key file holds a reference, never the key.

``Settings.audit_log_key_file`` used to hold the Ed25519 private key as plain PEM. It now holds one line,
the key's reference (``enc:v1:…`` wrapped under the KEK, or ``pkcs11:…`` on the HSM), created 0600 with
O_EXCL on first use so racing processes agree on one key. A file that still holds a plain PEM is wrapped
in place (atomically) the first time it is loaded. :class:`StoredKey` makes a stored key look like the
``Ed25519PrivateKey`` that :class:`lgsp.audit.sth.LogSigner` signs with, so the audit code is unchanged.

Integration hook: ``lgsp.audit.heads.HeadService.signer`` calls :func:`load_or_create_log_signer`.
Rotation: ``lgsp audit keys rotate`` (lgsp.audit.keys) takes its successor from :func:`new_log_key` and
writes the reference; :func:`rotate_log_key` is the plain variant without the announcement.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lgsp.audit.sth import LogSigner
from lgsp.keys.base import ED25519, KeyStore, KeyStoreError, backend_of
from lgsp.keys.encrypted import EncryptedKeyStore
from lgsp.keys.factory import keystore_for, keystore_from_settings
from lgsp.settings import Settings


class StoredKey:
    """An Ed25519 key in a :class:`KeyStore`, with the two methods LogSigner uses."""

    def __init__(self, store: KeyStore, ref: str) -> None:
        self.store, self.ref = store, ref
        public = store.public_key(ref)
        if not isinstance(public, Ed25519PublicKey):
            raise KeyStoreError("the audit log key must be an Ed25519 key")
        self._public = public

    def sign(self, data: bytes) -> bytes:
        return self.store.sign(self.ref, data)

    def public_key(self) -> Ed25519PublicKey:
        return self._public


def _label() -> str:
    return "audit-log-" + datetime.now(UTC).strftime("%Y%m%d") + "-" + secrets.token_hex(4)


def _write_new(path: Path, ref: str) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(ref + "\n")
    return True


def _replace(path: Path, ref: str) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(ref + "\n")
    os.replace(tmp, path)


def _read_ref(path: Path) -> str:
    for _ in range(50):  # a racing creator may still be writing
        text = path.read_text(encoding="utf-8").strip()
        if text.startswith(("enc:", "pkcs11:")) or b"END PRIVATE KEY" in text.encode():
            return text
        time.sleep(0.02)
    raise KeyStoreError(f"{path} holds neither a key reference nor a PEM key")


def load_or_create_log_signer(settings: Settings, path: str | Path | None = None) -> LogSigner:
    """The audit log's signer: the key named in ``audit_log_key_file`` (or ``path``, e.g. a witness key
    file), created on first use."""
    path = Path(path or settings.audit_log_key_file)
    if not path.exists():
        store = keystore_from_settings(settings)
        ref = store.generate(_label(), ED25519)
        if _write_new(path, ref):
            return LogSigner(cast(Ed25519PrivateKey, StoredKey(store, ref)))
        store.destroy(ref)  # another process won the race: use its key
    ref = _read_ref(path)
    if backend_of(ref) == "plain":  # written by an older version: wrap it now, in place
        enc = keystore_from_settings(settings, "encrypted")
        assert isinstance(enc, EncryptedKeyStore)
        ref = enc.wrap_pem(ref.encode(), _label())
        _replace(path, ref)
    return LogSigner(cast(Ed25519PrivateKey, StoredKey(keystore_for(settings, ref), ref)))


def new_log_key(settings: Settings) -> tuple[str, LogSigner]:
    """A new Ed25519 key in the configured backend, not yet named by any file: (reference, signer)."""
    store = keystore_from_settings(settings)
    ref = store.generate(_label(), ED25519)
    return ref, LogSigner(cast(Ed25519PrivateKey, StoredKey(store, ref)))


def rotate_log_key(settings: Settings, path: str | Path | None = None) -> LogSigner:
    """A new audit log (or witness) key in the configured backend; the file names it from now on."""
    store = keystore_from_settings(settings)
    ref = store.generate(_label(), ED25519)
    _replace(Path(path or settings.audit_log_key_file), ref)
    return LogSigner(cast(Ed25519PrivateKey, StoredKey(store, ref)))


def describe_log_key(settings: Settings, path: str | Path | None = None) -> dict[str, str]:
    path = Path(path or settings.audit_log_key_file)
    if not path.exists():
        return {"use": "audit log (Ed25519)", "backend": "-", "where": f"not created yet ({path})"}
    ref = path.read_text(encoding="utf-8").strip()
    backend = backend_of(ref)
    if backend == "plain":
        return {"use": "audit log (Ed25519)", "backend": "plain", "where": f"PLAIN PEM in {path} (wrapped at next use)"}
    try:
        where = keystore_for(settings, ref).where(ref)
    except Exception as exc:
        where = f"{backend} (not reachable: {type(exc).__name__})"
    return {"use": "audit log (Ed25519)", "backend": backend, "where": f"{where}; reference in {path}"}
