"""Keys encrypted at rest: PKCS#8 private keys wrapped with AES-256-GCM under a key-encryption key (KEK).

The KEK comes from ``LGSP_KEY_KEK`` (base64 of 32 bytes) or a file (created 0600 with random bytes on first
use) — never from the database, so a database dump alone reveals no private key. The reference format is
``enc:v1:<kek id>:<algorithm>:<label>:<base64 nonce||ciphertext>``; the label and algorithm are the GCM
associated data, so a wrapped key cannot be swapped onto another key id unnoticed. The KEK id (first 8 hex
of its SHA-256) tells an operator which KEK a key needs.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lgsp.keys.base import ED25519, ES256, KeyStoreError, PublicKey

PrivateKey = ec.EllipticCurvePrivateKey | Ed25519PrivateKey


def load_kek(env_value: str, path: str | Path) -> bytes:
    """The KEK from the environment value (base64), else from ``path`` (created 0600 if missing)."""
    if env_value:
        try:
            kek = base64.b64decode(env_value, validate=True)
        except ValueError:
            raise KeyStoreError("LGSP_KEY_KEK must be base64 of 32 random bytes") from None
        if len(kek) != 32:
            raise KeyStoreError("LGSP_KEY_KEK must be base64 of exactly 32 bytes (AES-256)")
        return kek
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: use theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(os.urandom(32))
    for _ in range(50):
        data = path.read_bytes()
        if len(data) == 32:
            return data
        if len(data) > 32:
            raise KeyStoreError(f"{path} must hold exactly 32 bytes (the key-encryption key)")
        import time

        time.sleep(0.02)  # the creator is still writing
    raise KeyStoreError(f"{path} does not hold a 32-byte key-encryption key")


class EncryptedKeyStore:
    name = "encrypted"

    def __init__(self, kek: bytes, where: str = "") -> None:
        if len(kek) != 32:
            raise KeyStoreError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(kek)
        self.kek_id = hashlib.sha256(kek).hexdigest()[:8]
        self._where = where
        self._cache: dict[str, PrivateKey] = {}

    # -- wrapping --------------------------------------------------------------------------------
    def wrap(self, key: PrivateKey, label: str, algorithm: str) -> str:
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, der, self._aad(label, algorithm))
        blob = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"enc:v1:{self.kek_id}:{algorithm}:{label}:{blob}"

    def wrap_pem(self, pem: bytes, label: str) -> str:
        """Wrap a legacy plain PEM key (migration of keys stored before this backend existed)."""
        key = serialization.load_pem_private_key(pem, None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return self.wrap(key, label, ES256)
        if isinstance(key, Ed25519PrivateKey):
            return self.wrap(key, label, ED25519)
        raise KeyStoreError("only P-256 and Ed25519 private keys are supported")

    @staticmethod
    def _aad(label: str, algorithm: str) -> bytes:
        return f"lgsp-key:v1:{algorithm}:{label}".encode()

    def _parse(self, ref: str) -> tuple[str, str, str, bytes]:
        parts = ref.split(":", 5)
        if len(parts) != 6 or parts[0] != "enc" or parts[1] != "v1":
            raise KeyStoreError("not an encrypted key reference")
        _, _, kek_id, algorithm, label, blob = parts
        return kek_id, algorithm, label, base64.urlsafe_b64decode(blob)

    def _private(self, ref: str) -> PrivateKey:
        cached = self._cache.get(ref)
        if cached is not None:
            return cached
        kek_id, algorithm, label, sealed = self._parse(ref)
        if kek_id != self.kek_id:
            raise KeyStoreError(f"key {label} is wrapped with KEK {kek_id}, but the configured KEK is "
                                f"{self.kek_id}")
        try:
            der = self._aead.decrypt(sealed[:12], sealed[12:], self._aad(label, algorithm))
        except InvalidTag:
            raise KeyStoreError(f"key {label} does not unwrap with KEK {self.kek_id} (tampered?)") from None
        key = serialization.load_der_private_key(der, None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | Ed25519PrivateKey):
            raise KeyStoreError(f"key {label}: unsupported key type")
        self._cache[ref] = key
        return key

    # -- the KeyStore interface ------------------------------------------------------------------
    def generate(self, label: str, algorithm: str) -> str:
        if algorithm == ES256:
            return self.wrap(ec.generate_private_key(ec.SECP256R1()), label, algorithm)
        if algorithm == ED25519:
            return self.wrap(Ed25519PrivateKey.generate(), label, algorithm)
        raise KeyStoreError(f"unsupported algorithm {algorithm!r}")

    def sign(self, ref: str, data: bytes) -> bytes:
        key = self._private(ref)
        if isinstance(key, Ed25519PrivateKey):
            return key.sign(data)
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def public_key(self, ref: str) -> PublicKey:
        return self._private(ref).public_key()

    def where(self, ref: str) -> str:
        kek_id, _, _, _ = self._parse(ref)
        return f"encrypted at rest (AES-256-GCM, KEK {kek_id}{' ' + self._where if self._where else ''})"

    def destroy(self, ref: str) -> None:
        self._cache.pop(ref, None)
