"""C2SP signed-note / checkpoint / cosignature, checked against published vectors, not our own output.

Vectors: golang.org/x/mod/sumdb/note (note_test.go, the package's example: PeterNeumann key and
signature) and transparency-dev/formats note tests (a type-0x04 cosignature/v1 verifier key, and a
type-0x01 key whose base64 contains '+').
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lgsp.audit.note import (
    ALG_COSIGNATURE,
    NoteError,
    NoteSigner,
    NoteVerifier,
    checkpoint_text,
    open_note,
    parse_checkpoint,
)

PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
NOTE = (TEXT + "\n\u2014 PeterNeumann "
        "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
COSIG_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
PLUS_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"


def test_go_sumdb_note_vector_signs_and_verifies_byte_for_byte() -> None:
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:]
    signer = NoteSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(seed))
    assert signer.verifier.vkey() == PETER_VKEY
    assert TEXT + "\n" + signer.signature_line(TEXT) == NOTE  # Ed25519 is deterministic
    text, signatures = open_note(NOTE)
    assert text == TEXT
    assert NoteVerifier.from_vkey(PETER_VKEY).verify(text, signatures[0]) is None
    with pytest.raises(NoteError):
        NoteVerifier.from_vkey(PETER_VKEY).verify(text.replace("cryptography", "cryptographY"), signatures[0])


def test_verifier_keys_of_both_types_parse_with_their_key_hash() -> None:
    cosigner = NoteVerifier.from_vkey(COSIG_VKEY)
    assert cosigner.alg == ALG_COSIGNATURE and cosigner.vkey() == COSIG_VKEY
    assert NoteVerifier.from_vkey(PLUS_VKEY).vkey() == PLUS_VKEY
    with pytest.raises(NoteError):
        NoteVerifier.from_vkey(COSIG_VKEY.replace("da77ade7", "da77ade8"))


def test_checkpoint_round_trip_and_cosignature() -> None:
    root = bytes(range(32))
    text = checkpoint_text("lgsp.example/audit", 12, root)
    assert text == f"lgsp.example/audit\n12\n{base64.b64encode(root).decode()}\n"
    assert parse_checkpoint(text).tree_size == 12
    witness = NoteSigner("witness.example", Ed25519PrivateKey.generate(), ALG_COSIGNATURE)
    _, (sig,) = open_note(text + "\n" + witness.signature_line(text, 1_700_000_000))
    assert witness.verifier.verify(text, sig) == 1_700_000_000
    for bad in ("o\n012\nAAAA\n", "o\n1\n" + base64.b64encode(b"x").decode() + "\n", "o\n1\n"):
        with pytest.raises(NoteError):
            parse_checkpoint(bad)
