"""Signed tree heads (STH) and the log's key ring.

Why: a root hash alone proves nothing about *who* vouched for it. The gateway signs each head
(tree size, root, time) with its Ed25519 log key; anyone holding a head can later demand a
consistency proof, so the operator can never rewrite history that was already signed.

Key id = SHA-256 of the DER SubjectPublicKeyInfo of the public key (as the RFC 6962 log id), hex.
Signed bytes = the RFC 8785 canonical JSON of
``{"context": "lgsp-audit-sth-v1", "root_hash": <hex>, "timestamp": <RFC 3339 µs Z>, "tree_size": n}``
— the context string stops a head signature being replayed as any other kind of signature.
Retired keys stay in the ring so old heads keep verifying; a head dated after a key's retirement
is refused, and one dated before a smaller head is refused by :mod:`lgsp.audit.head_order` (so a
retired key cannot vouch for a head backdated into its validity window once a later head exists).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lgsp.audit.canonical import TIME_PATTERN, format_time, jcs_bytes
from lgsp.audit.merkle import HASH_SIZE

__all__ = [
    "STH_CONTEXT",
    "HeadVerificationError",
    "LogKeyRing",
    "LogPublicKey",
    "LogSigner",
    "SignedTreeHead",
    "key_id_of",
]

STH_CONTEXT = "lgsp-audit-sth-v1"
ALGORITHM = "Ed25519"


class HeadVerificationError(ValueError):
    """A head is malformed, signed by an unknown or retired key, or its signature is wrong."""


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """Hex SHA-256 of the DER SubjectPublicKeyInfo: a stable, algorithm-agnostic key id."""
    return hashlib.sha256(_spki(public_key)).hexdigest()


def _spki(public_key: Ed25519PublicKey) -> bytes:
    spki_format = serialization.PublicFormat.SubjectPublicKeyInfo
    return public_key.public_bytes(serialization.Encoding.DER, spki_format)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise HeadVerificationError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise HeadVerificationError(f"{what} is not valid base64") from exc


@dataclass(frozen=True)
class SignedTreeHead:
    """One signed head. ``tsa_token`` (DER RFC 3161 token over :meth:`tsa_imprint`) is optional."""

    tree_size: int
    root_hash: bytes
    timestamp: str
    key_id: str
    signature: bytes
    tsa_token: bytes | None = None

    @staticmethod
    def signing_input(tree_size: int, root_hash: bytes, timestamp: str) -> bytes:
        """The exact bytes the log key signs (see module docstring)."""
        fields = {"root_hash": root_hash.hex(), "timestamp": timestamp, "tree_size": tree_size}
        return jcs_bytes({"context": STH_CONTEXT, **fields})

    def signed_bytes(self) -> bytes:
        return self.signing_input(self.tree_size, self.root_hash, self.timestamp)

    def tsa_imprint(self) -> bytes:
        """SHA-256 over the signed bytes *and* the signature: a TSA token then dates the signature."""
        return hashlib.sha256(self.signed_bytes() + self.signature).digest()

    def with_tsa_token(self, token: bytes) -> SignedTreeHead:
        return replace(self, tsa_token=token)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": _b64(self.signature),
        }
        if self.tsa_token is not None:
            data["tsa_token"] = _b64(self.tsa_token)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignedTreeHead:
        """Parse a head; shape errors raise :class:`HeadVerificationError` (never a KeyError)."""
        if not isinstance(data, Mapping):
            raise HeadVerificationError("a head must be a JSON object")
        try:
            size, root_hex, timestamp, key_id = (
                data["tree_size"], data["root_hash"], data["timestamp"], data["key_id"]
            )
        except KeyError as exc:
            raise HeadVerificationError(f"head is missing field {exc.args[0]!r}") from exc
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise HeadVerificationError(f"tree_size must be a non-negative integer, got {size!r}")
        try:
            root = bytes.fromhex(root_hex)
        except (TypeError, ValueError) as exc:
            raise HeadVerificationError("root_hash must be hex") from exc
        if len(root) != HASH_SIZE:
            raise HeadVerificationError("root_hash must be a 32-byte SHA-256 hash")
        if not isinstance(timestamp, str) or not TIME_PATTERN.fullmatch(timestamp):
            raise HeadVerificationError(f"timestamp must be 'YYYY-MM-DDTHH:MM:SS.ffffffZ', got {timestamp!r}")
        if not isinstance(key_id, str):
            raise HeadVerificationError("key_id must be a string")
        token = data.get("tsa_token")
        return cls(
            tree_size=size,
            root_hash=root,
            timestamp=timestamp,
            key_id=key_id,
            signature=_unb64(data.get("signature"), "signature"),
            tsa_token=None if token is None else _unb64(token, "tsa_token"),
        )


@dataclass(frozen=True)
class LogPublicKey:
    """A published log key (what ``GET /audit/keys`` lists)."""

    public_key: Ed25519PublicKey
    created_at: str | None = None
    retired_at: str | None = None
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_id", key_id_of(self.public_key))

    def note_verifier(self, origin: str) -> Any:
        """This key as the C2SP verifier key named ``origin`` (what witnesses and checkpoint readers pin)."""
        from lgsp.audit.note import NoteVerifier

        return NoteVerifier(origin, self.public_key)

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "algorithm": ALGORITHM,
            "public_key": _b64(_spki(self.public_key)),
            "status": "retired" if self.retired_at else "current",
            "created_at": self.created_at,
            "retired_at": self.retired_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LogPublicKey:
        """Parse a published key and check its ``key_id`` matches the key material."""
        if not isinstance(data, Mapping):
            raise HeadVerificationError("a key must be a JSON object")
        if data.get("algorithm") != ALGORITHM:
            raise HeadVerificationError(f"unsupported key algorithm {data.get('algorithm')!r}")
        try:
            key = serialization.load_der_public_key(_unb64(data.get("public_key"), "public_key"))
        except ValueError as exc:
            raise HeadVerificationError("public_key is not a DER SubjectPublicKeyInfo") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise HeadVerificationError("public_key is not an Ed25519 key")
        created, retired = data.get("created_at"), data.get("retired_at")
        if created is not None and not isinstance(created, str):
            raise HeadVerificationError("created_at must be a time string or null")
        # Compared as text with each head's timestamp, so only the one spelling heads use compares right
        # ("…t…z" or "2026-12-07 10:00" would move the retirement): anything else is refused, not guessed.
        if retired is not None and (not isinstance(retired, str) or not TIME_PATTERN.fullmatch(retired)):
            raise HeadVerificationError(f"retired_at must be 'YYYY-MM-DDTHH:MM:SS.ffffffZ' or null, got {retired!r}")
        parsed = cls(key, created_at=created, retired_at=retired)
        if "key_id" in data and data["key_id"] != parsed.key_id:
            raise HeadVerificationError(f"key_id {data['key_id']} does not match its public key")
        return parsed


class LogSigner:
    """The gateway's private log key. Generate it once per deployment; never commit it."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public = LogPublicKey(private_key.public_key())

    @property
    def private_key(self) -> Ed25519PrivateKey:
        """The signing key (a key-store handle in production: it signs, it never yields its bytes)."""
        return self._private_key

    @classmethod
    def generate(cls) -> LogSigner:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None) -> LogSigner:
        key = serialization.load_pem_private_key(pem, password)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the audit log key must be an Ed25519 private key")
        return cls(key)

    def private_pem(self, password: bytes | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def note_signer(self, origin: str) -> Any:
        """This key as the C2SP note signer named ``origin`` (checkpoints; see :mod:`lgsp.audit.note`)."""
        from lgsp.audit.note import NoteSigner

        return NoteSigner(origin, self._private_key)

    def sign_bytes(self, data: bytes) -> bytes:
        """Raw Ed25519 signature; callers put a context string into ``data`` (no cross-protocol replay)."""
        return self._private_key.sign(data)

    def sign_head(self, tree_size: int, root_hash: bytes, when: datetime | None = None) -> SignedTreeHead:
        timestamp = format_time(when or datetime.now(UTC))
        signature = self._private_key.sign(SignedTreeHead.signing_input(tree_size, root_hash, timestamp))
        return SignedTreeHead(tree_size, root_hash, timestamp, self.key_id, signature)


class LogKeyRing:
    """The log's public keys: the current one plus retired ones that still vouch for old heads."""

    def __init__(self, keys: Iterable[LogPublicKey] = ()) -> None:
        self._keys: dict[str, LogPublicKey] = {}
        for key in keys:
            self.add(key)

    def add(self, key: LogPublicKey) -> None:
        self._keys[key.key_id] = key

    def retire(self, key_id: str, when: datetime | None = None) -> None:
        """Mark a key retired: heads it signs dated after ``when`` are refused from then on."""
        key = self.get(key_id)
        self._keys[key_id] = LogPublicKey(
            key.public_key, created_at=key.created_at, retired_at=format_time(when or datetime.now(UTC))
        )

    def get(self, key_id: str) -> LogPublicKey:
        try:
            return self._keys[key_id]
        except KeyError:
            raise HeadVerificationError(
                f"head signed by unknown key {key_id}; trusted keys: {sorted(self._keys) or 'none'}"
            ) from None

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> list[LogPublicKey]:
        return list(self._keys.values())

    @property
    def current(self) -> list[LogPublicKey]:
        return [k for k in self._keys.values() if k.retired_at is None]

    def verify(self, head: SignedTreeHead) -> LogPublicKey:
        """Check the head's signature with the key it names; return that key or raise."""
        key = self.get(head.key_id)
        if key.retired_at is not None and head.timestamp > key.retired_at:
            raise HeadVerificationError(
                f"head of size {head.tree_size} is dated {head.timestamp}, after key {head.key_id[:16]}… "
                f"was retired at {key.retired_at}"
            )
        try:
            key.public_key.verify(head.signature, head.signed_bytes())
        except InvalidSignature:
            raise HeadVerificationError(
                f"signature on head of size {head.tree_size} does not verify with key {head.key_id[:16]}…"
            ) from None
        return key

    def verify_bytes(self, key_id: str, signature: bytes, data: bytes, what: str) -> LogPublicKey:
        """Check a raw Ed25519 signature by the key ``key_id`` (export statements); raise on failure."""
        key = self.get(key_id)
        try:
            key.public_key.verify(signature, data)
        except InvalidSignature:
            raise HeadVerificationError(f"signature on the {what} does not verify with key {key_id[:16]}…") from None
        return key

    def to_json(self) -> dict[str, Any]:
        """The ``GET /audit/keys`` document."""
        return {"keys": [k.to_json() for k in self._keys.values()]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LogKeyRing:
        keys = data.get("keys") if isinstance(data, Mapping) else None
        if not isinstance(keys, list):
            raise HeadVerificationError("a key ring document needs a 'keys' list")
        return cls(LogPublicKey.from_json(k) for k in keys)
