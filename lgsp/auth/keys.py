"""The token signing key ring: ES256 keys, the newest active one signs.

The store keeps each key's public JWK and a *reference* to its private half (column ``private_pem``,
kept for compatibility): ``enc:v1:…`` (wrapped under the KEK) or ``pkcs11:…`` (on an HSM), never a plain
PEM — signing goes through :mod:`lgsp.keys`. A plain PEM left by an older version is wrapped in place
the first time the ring loads it.

Rotation adds a key and retires the previous one; a retired key keeps verifying (and stays in the JWKS)
until every token it signed has expired, then it is dropped from both. Every gateway process reloads the
ring when it meets an unknown `kid`, so a rotation done by another process is picked up at once (an
unknown kid reloads at most once a second, so made-up kids cannot turn into one query each).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from lgsp.auth.models import SigningKey
from lgsp.keys import ES256, KeyStore, backend_of, keystore_for, keystore_from_settings
from lgsp.keys.encrypted import EncryptedKeyStore
from lgsp.settings import Settings
from lgsp.store.db import writer

#: How often an unknown `kid` may reload the ring from the store (per process).
UNKNOWN_KID_RELOAD_SECONDS = 1.0
#: ``signing_keys.kid``'s length: a longer kid names no stored key.
_MAX_KID = 64


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    #: The public key only (verification, JWKS); signing goes through ``store`` with ``ref``.
    key: ECKey
    retired_at: datetime | None
    ref: str = ""
    store: KeyStore | None = None

    def sign(self, data: bytes) -> bytes:
        assert self.store is not None
        return self.store.sign(self.ref, data)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class KeyRing:
    """Signing and verification keys, loaded from the store and cached in memory."""

    def __init__(self, engine: Engine, token_lifetime_seconds: int, settings: Settings | None = None) -> None:
        self._engine = engine
        self._settings = settings or Settings.load()
        self._lifetime = timedelta(seconds=token_lifetime_seconds)
        self._lock = threading.Lock()
        self._keys: dict[str, LoadedKey] = {}
        self._signing: LoadedKey | None = None
        self._unknown_reloaded_at = -UNKNOWN_KID_RELOAD_SECONDS

    def reload(self) -> None:
        with Session(self._engine) as session:
            rows = session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
        now = datetime.now(UTC)
        keys: dict[str, LoadedKey] = {}
        signing: LoadedKey | None = None
        for row in rows:
            retired_at = _aware(row.retired_at)
            if retired_at is not None and retired_at + self._lifetime < now:
                continue  # every token it signed has expired
            ref = row.private_pem
            if backend_of(ref) == "plain":
                ref = self._wrap_legacy(row.kid, ref)
            public = ECKey.import_key({k: v for k, v in row.public_jwk.items() if k in ("kty", "crv", "x", "y")},
                                      {"kid": row.kid})
            loaded = LoadedKey(row.kid, public, retired_at, ref, keystore_for(self._settings, ref))
            keys[row.kid] = loaded
            if retired_at is None:
                signing = loaded
        with self._lock:
            self._keys, self._signing = keys, signing

    def _wrap_legacy(self, kid: str, pem: str) -> str:
        """A key stored in plain by an older version: wrap it under the KEK, in place, now."""
        store = keystore_from_settings(self._settings, "encrypted")
        assert isinstance(store, EncryptedKeyStore)
        ref = store.wrap_pem(pem.encode(), kid)
        with Session(writer(self._engine)) as session, session.begin():
            session.execute(update(SigningKey).where(SigningKey.kid == kid, SigningKey.private_pem == pem)
                            .values(private_pem=ref))
        return ref

    def sign_jwt(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        """A compact JWS (ES256) signed by the current key through its key store."""
        signing = self.signing_key()
        head = _b64url(json.dumps({**header, "kid": signing.kid}, separators=(",", ":")).encode())
        body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = signing.sign(f"{head}.{body}".encode("ascii"))
        return f"{head}.{body}.{_b64url(signature)}"

    def describe(self) -> list[dict[str, Any]]:
        """Every key in the store with where its private half lives (for ``lgsp keys list``)."""
        with Session(self._engine) as session:
            rows = session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
        out = []
        for row in rows:
            backend = backend_of(row.private_pem)
            try:
                where = ("PLAIN in the database (wrapped at the next start)" if backend == "plain"
                         else keystore_for(self._settings, row.private_pem).where(row.private_pem))
            except Exception as exc:  # e.g. the HSM is not reachable from here: say so, do not fail the list
                where = f"{backend} (not reachable: {type(exc).__name__})"
            out.append({"kid": row.kid, "use": "token signing (ES256)", "created_at": _aware(row.created_at),
                        "retired_at": _aware(row.retired_at), "backend": backend, "where": where})
        return out

    def signing_key(self) -> LoadedKey:
        if self._signing is None:
            self.reload()
        if self._signing is None:
            self.rotate()
        assert self._signing is not None
        return self._signing

    def verification_key(self, kid: str) -> ECKey | None:
        """The public key of ``kid``; an unknown kid reloads the ring from the store (a rotation made by
        another process), at most once per :data:`UNKNOWN_KID_RELOAD_SECONDS`. Without that bound every
        request with a made-up kid, from anyone and before any signature is checked, cost a query on
        the event loop."""
        loaded = self._keys.get(kid)
        if loaded is None and 0 < len(kid) <= _MAX_KID and self._may_reload():
            self.reload()
            loaded = self._keys.get(kid)
        return loaded.key if loaded else None

    def _may_reload(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._unknown_reloaded_at < UNKNOWN_KID_RELOAD_SECONDS:
                return False
            self._unknown_reloaded_at = now
            return True

    def rotate(self) -> str:
        """Create a new signing key and retire the current ones; returns the new key id."""
        kid = datetime.now(UTC).strftime("%Y%m%d") + "-" + secrets.token_hex(4)
        store = keystore_from_settings(self._settings)
        ref = store.generate(kid, ES256)
        pem = store.public_key(ref).public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        public = ECKey.import_key(pem).as_dict(private=False)
        public.update({"kid": kid, "alg": "ES256", "use": "sig"})
        now = datetime.now(UTC)
        with Session(writer(self._engine)) as session, session.begin():
            for row in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
                row.retired_at = now
            session.add(SigningKey(kid=kid, private_pem=ref, public_jwk=public, created_at=now))
        self.reload()
        return kid

    def jwks(self) -> dict[str, Any]:
        if not self._keys:
            self.signing_key()
        keys = []
        for loaded in self._keys.values():
            public = loaded.key.as_dict(private=False)
            public.update({"kid": loaded.kid, "alg": "ES256", "use": "sig"})
            keys.append(public)
        return {"keys": keys}

    def key_set(self) -> KeySet:
        if not self._keys:
            self.reload()
        return KeySet([loaded.key for loaded in self._keys.values()])
