"""C2SP signed notes, checkpoints and cosignatures (the formats CT-style logs and witnesses share).

Why a second form next to the JSON head: witnesses and tools from the transparency-log ecosystem
(sigsum, the Go checksum database, omniwitness) speak these exact bytes, so a witness run by the
provincial inspectorate does not need to understand lgsp's JSON. Specs followed:

* C2SP ``signed-note``: ``text`` (UTF-8, ends in a newline), a blank line, then signature lines
  ``— <name> <base64(key hash[4] || signature)>``; key hash = first 4 bytes of
  SHA-256(name || 0x0A || type || public key), type 0x01 = Ed25519 over the text. Verifier keys
  are written ``<name>+<key hash hex>+<base64(type || public key)>``.
* C2SP ``tlog-checkpoint``: the text is ``<origin>\\n<tree size>\\n<base64 root hash>\\n`` followed
  by optional extension lines (we use one for key rotation, see :data:`NEXT_KEY_EXTENSION`).
* C2SP ``tlog-cosignature`` (cosignature/v1): type 0x04; the witness signs
  ``cosignature/v1\\ntime <unix seconds>\\n`` + the checkpoint text; the signature line carries
  key hash || 8-byte big-endian timestamp || signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "ALG_COSIGNATURE",
    "ALG_ED25519",
    "KEY_CHANGE_AT_EXTENSION",
    "NEXT_KEY_EXTENSION",
    "RETIRE_KEY_EXTENSION",
    "Checkpoint",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "Signature",
    "checkpoint_text",
    "open_note",
    "parse_checkpoint",
]

ALG_ED25519 = 0x01
ALG_COSIGNATURE = 0x04
NEXT_KEY_EXTENSION = "lgsp-next-key "  # extension line: "lgsp-next-key <verifier key of the successor>"
RETIRE_KEY_EXTENSION = "lgsp-retire-key "  # "lgsp-retire-key <verifier key no longer trusted>"
KEY_CHANGE_AT_EXTENSION = "lgsp-key-change-at "  # "lgsp-key-change-at <RFC 3339 µs Z>": when the change applies
_DASH = "\u2014"


class NoteError(ValueError):
    """A note, checkpoint, key or signature is malformed or does not verify."""


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, alg: int, public_key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + _raw(public_key)).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class NoteVerifier:
    """A public key under a name: a log key (type 0x01) or a witness key (type 0x04)."""

    name: str
    public_key: Ed25519PublicKey
    alg: int = ALG_ED25519
    key_hash: bytes = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        object.__setattr__(self, "key_hash", key_hash(self.name, self.alg, self.public_key))

    def vkey(self) -> str:
        """``name+hash+base64(type||key)``, the verifier-key text an auditor pins."""
        material = base64.b64encode(bytes([self.alg]) + _raw(self.public_key)).decode()
        return f"{self.name}+{self.key_hash.hex()}+{material}"

    @classmethod
    def from_vkey(cls, text: str) -> NoteVerifier:
        parts = text.strip().split("+", 2)  # the base64 key itself may contain "+"
        if len(parts) != 3:
            raise NoteError(f"verifier key {text!r} is not name+hash+key")
        name, hash_hex, material_b64 = parts
        try:
            material = base64.b64decode(material_b64, validate=True)
        except binascii.Error as exc:
            raise NoteError(f"verifier key {name!r}: key is not base64") from exc
        if len(material) != 33 or material[0] not in (ALG_ED25519, ALG_COSIGNATURE):
            raise NoteError(f"verifier key {name!r}: not an Ed25519 (0x01) or cosignature/v1 (0x04) key")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(material[1:]), material[0])
        if verifier.key_hash.hex() != hash_hex.lower():
            raise NoteError(f"verifier key {name!r}: key hash {hash_hex} does not match the key")
        return verifier

    def verify(self, text: str, sig: Signature) -> int | None:
        """Check one signature line over ``text``; returns the cosignature time (None for a note signature)."""
        if sig.name != self.name or sig.key_hash != self.key_hash:
            raise NoteError(f"signature by {sig.name} is not from key {self.vkey()}")
        if self.alg == ALG_COSIGNATURE:
            if len(sig.payload) != 8 + 64:
                raise NoteError(f"cosignature by {sig.name} has the wrong length")
            (when,) = struct.unpack(">Q", sig.payload[:8])
            message, signature = cosigned_message(text, when), sig.payload[8:]
        else:
            when, message, signature = None, text.encode(), sig.payload
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            raise NoteError(f"signature by {sig.name} does not verify") from None
        return when


class NoteSigner:
    """A private key under a name: signs notes (log) or cosigns checkpoints (witness)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey, alg: int = ALG_ED25519) -> None:
        self.private_key = private_key
        self.verifier = NoteVerifier(name, private_key.public_key(), alg)

    @property
    def name(self) -> str:
        return self.verifier.name

    def signature_line(self, text: str, when: int | None = None) -> str:
        if self.verifier.alg == ALG_COSIGNATURE:
            if when is None:
                raise NoteError("a cosignature needs a timestamp")
            payload = struct.pack(">Q", when) + self.private_key.sign(cosigned_message(text, when))
        else:
            payload = self.private_key.sign(text.encode())
        encoded = base64.b64encode(self.verifier.key_hash + payload).decode()
        return f"{_DASH} {self.name} {encoded}\n"


def cosigned_message(text: str, when: int) -> bytes:
    return f"cosignature/v1\ntime {when}\n".encode() + text.encode()


@dataclass(frozen=True)
class Signature:
    name: str
    key_hash: bytes
    payload: bytes

    def line(self) -> str:
        return f"{_DASH} {self.name} {base64.b64encode(self.key_hash + self.payload).decode()}\n"


def open_note(note: str) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and its signature lines (unverified)."""
    if not isinstance(note, str) or "\n\n" not in note or not note.endswith("\n"):
        raise NoteError("a signed note is text, a blank line and signature lines, ending in a newline")
    cut = note.rindex("\n\n")
    text, lines = note[: cut + 1], note[cut + 2:].splitlines()
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note text contains control characters")
    signatures = []
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _DASH:
            raise NoteError(f"not a signature line: {line[:60]!r}")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except binascii.Error as exc:
            raise NoteError(f"signature by {parts[1]} is not base64") from exc
        if len(raw) < 5:
            raise NoteError(f"signature by {parts[1]} is too short")
        signatures.append(Signature(parts[1], raw[:4], raw[4:]))
    if not signatures:
        raise NoteError("the note carries no signature")
    return text, signatures


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        return checkpoint_text(self.origin, self.tree_size, self.root_hash, self.extensions)

    def next_key(self) -> NoteVerifier | None:
        """The successor log key announced in this checkpoint (key rotation), if any."""
        for line in self.extensions:
            if line.startswith(NEXT_KEY_EXTENSION):
                return NoteVerifier.from_vkey(line[len(NEXT_KEY_EXTENSION):])
        return None

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "tree_size": self.tree_size, "root_hash": self.root_hash.hex()}


def checkpoint_text(origin: str, tree_size: int, root_hash: bytes, extensions: tuple[str, ...] = ()) -> str:
    lines = [origin, str(tree_size), base64.b64encode(root_hash).decode(), *extensions]
    return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not lines[0]:
        raise NoteError("a checkpoint is origin, tree size and root hash lines")
    size_text, root_text = lines[1], lines[2]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError(f"checkpoint tree size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise NoteError("checkpoint root hash is not base64") from exc
    if len(root) != 32:
        raise NoteError("checkpoint root hash is not 32 bytes")
    return Checkpoint(lines[0], int(size_text), root, tuple(lines[3:-1]))
