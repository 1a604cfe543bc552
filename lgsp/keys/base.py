"""The key interface every backend implements, and the signature formats it promises."""

from __future__ import annotations

from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

#: ECDSA P-256 with SHA-256; signatures are raw ``r || s`` (64 bytes), as JWS ES256 wants them.
ES256 = "ES256"
#: Ed25519 (the audit log key); 64-byte signatures.
ED25519 = "Ed25519"
ALGORITHMS = (ES256, ED25519)

PublicKey = EllipticCurvePublicKey | Ed25519PublicKey


class KeyStoreError(Exception):
    """A key could not be created, found or used (wrong KEK, token missing, bad reference)."""


class KeyStore(Protocol):
    #: ``encrypted`` or ``pkcs11``.
    name: str

    def generate(self, label: str, algorithm: str) -> str:
        """Create a key pair; returns its reference (safe to store: it holds no plain private key)."""

    def sign(self, ref: str, data: bytes) -> bytes:
        """Sign ``data`` with the key ``ref`` names (ES256: raw r||s over SHA-256; Ed25519: pure)."""

    def public_key(self, ref: str) -> PublicKey:
        """The public half (safe to publish)."""

    def where(self, ref: str) -> str:
        """Where the private key lives, for operators (never the key itself)."""

    def destroy(self, ref: str) -> None:
        """Delete the key (HSM objects); a no-op where the reference is the only copy."""


def backend_of(ref: str) -> str:
    """``encrypted``, ``pkcs11`` or ``plain`` (a legacy PEM that must be wrapped) for a stored reference."""
    if ref.startswith("enc:"):
        return "encrypted"
    if ref.startswith("pkcs11:"):
        return "pkcs11"
    return "plain"
