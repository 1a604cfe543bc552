"""The token signing key ring: ES256 keys in the store, the newest active one signs.

Rotation adds a key and retires the previous one; a retired key keeps verifying (and stays in the JWKS)
until every token it signed has expired, then it is dropped from both. Every gateway process reloads the
ring when it meets an unknown `kid`, so a rotation done by another process is picked up at once.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc.jwk import ECKey, KeySet
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from lgsp.auth.models import SigningKey
from lgsp.store.db import writer


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    key: ECKey
    retired_at: datetime | None


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class KeyRing:
    """Signing and verification keys, loaded from the store and cached in memory."""

    def __init__(self, engine: Engine, token_lifetime_seconds: int) -> None:
        self._engine = engine
        self._lifetime = timedelta(seconds=token_lifetime_seconds)
        self._lock = threading.Lock()
        self._keys: dict[str, LoadedKey] = {}
        self._signing: LoadedKey | None = None

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
            loaded = LoadedKey(row.kid, ECKey.import_key(row.private_pem, {"kid": row.kid}), retired_at)
            keys[row.kid] = loaded
            if retired_at is None:
                signing = loaded
        with self._lock:
            self._keys, self._signing = keys, signing

    def signing_key(self) -> LoadedKey:
        if self._signing is None:
            self.reload()
        if self._signing is None:
            self.rotate()
        assert self._signing is not None
        return self._signing

    def verification_key(self, kid: str) -> ECKey | None:
        loaded = self._keys.get(kid)
        if loaded is None:
            self.reload()
            loaded = self._keys.get(kid)
        return loaded.key if loaded else None

    def rotate(self) -> str:
        """Create a new signing key and retire the current ones; returns the new key id."""
        key = ECKey.generate_key("P-256", private=True)
        kid = datetime.now(UTC).strftime("%Y%m%d") + "-" + secrets.token_hex(4)
        public = key.as_dict(private=False)
        public.update({"kid": kid, "alg": "ES256", "use": "sig"})
        pem = key.as_pem(private=True)
        now = datetime.now(UTC)
        with Session(writer(self._engine)) as session, session.begin():
            for row in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
                row.retired_at = now
            session.add(SigningKey(kid=kid, private_pem=pem.decode(), public_jwk=public, created_at=now))
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
        return KeySet([loaded.key for loaded in self._keys.values()])
