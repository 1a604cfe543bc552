"""Signed tree heads: Ed25519 signatures, key ids, retired keys, JSON round trips."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from lgsp.audit.sth import HeadVerificationError, LogKeyRing, LogPublicKey, LogSigner, SignedTreeHead

ROOT = hashlib.sha256(b"root").digest()
WHEN = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_head_survives_json_and_verifies() -> None:
    signer = LogSigner.generate()
    ring = LogKeyRing([signer.public])
    head = signer.sign_head(42, ROOT, WHEN)
    parsed = SignedTreeHead.from_json(json.loads(json.dumps(head.to_json())))
    assert parsed == head
    assert ring.verify(parsed).key_id == signer.key_id
    assert parsed.timestamp == "2026-11-26T09:00:00.000000Z"


def test_key_id_is_sha256_of_the_der_spki() -> None:
    signer = LogSigner.generate()
    spki = signer.public.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert signer.key_id == hashlib.sha256(spki).hexdigest()
    published = signer.public.to_json()
    assert base64.b64decode(published["public_key"]) == spki


@pytest.mark.parametrize(
    "field, value",
    [
        ("tree_size", 43),
        ("root_hash", hashlib.sha256(b"other").hexdigest()),
        ("timestamp", "2026-11-26T09:00:01.000000Z"),
    ],
)
def test_any_changed_field_breaks_the_signature(field: str, value: object) -> None:
    signer = LogSigner.generate()
    forged = {**signer.sign_head(42, ROOT, WHEN).to_json(), field: value}
    with pytest.raises(HeadVerificationError, match="does not verify"):
        LogKeyRing([signer.public]).verify(SignedTreeHead.from_json(forged))


def test_head_from_an_unknown_key_names_the_key() -> None:
    trusted, stranger = LogSigner.generate(), LogSigner.generate()
    head = stranger.sign_head(1, ROOT, WHEN)
    with pytest.raises(HeadVerificationError, match=f"unknown key {stranger.key_id}"):
        LogKeyRing([trusted.public]).verify(head)
    # claiming the trusted key's id does not help: the signature will not verify with it
    claimed = SignedTreeHead(1, ROOT, head.timestamp, trusted.key_id, head.signature)
    with pytest.raises(HeadVerificationError, match="does not verify"):
        LogKeyRing([trusted.public]).verify(claimed)


def test_retired_key_vouches_for_old_heads_only() -> None:
    old, new = LogSigner.generate(), LogSigner.generate()
    ring = LogKeyRing([old.public, new.public])
    before = old.sign_head(10, ROOT, WHEN)
    ring.retire(old.key_id, WHEN + timedelta(hours=1))
    after = old.sign_head(11, ROOT, WHEN + timedelta(hours=2))
    ring.verify(before)
    with pytest.raises(HeadVerificationError, match=r"after key .* was retired"):
        ring.verify(after)
    ring.verify(new.sign_head(11, ROOT, WHEN + timedelta(hours=2)))
    doc = json.loads(json.dumps(ring.to_json()))
    assert {k["status"] for k in doc["keys"]} == {"current", "retired"}
    reloaded = LogKeyRing.from_json(doc)
    assert [k.key_id for k in reloaded.current] == [new.key_id]
    with pytest.raises(HeadVerificationError, match="retired"):
        reloaded.verify(after)


def test_published_key_with_a_mismatched_id_is_refused() -> None:
    doc = LogSigner.generate().public.to_json()
    doc["key_id"] = "00" * 32
    with pytest.raises(HeadVerificationError, match="does not match"):
        LogPublicKey.from_json(doc)


def test_private_key_round_trips_through_encrypted_pem() -> None:
    signer = LogSigner.generate()
    pem = signer.private_pem(password=b"correct horse")
    assert b"ENCRYPTED" in pem
    again = LogSigner.from_pem(pem, password=b"correct horse")
    assert again.key_id == signer.key_id
    LogKeyRing([signer.public]).verify(again.sign_head(5, ROOT))


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"tree_size": -1},
        {"root_hash": "zz"},
        {"root_hash": "00"},
        {"timestamp": "yesterday"},
        {"signature": "%%%"},
    ],
)
def test_malformed_heads_raise_head_errors(broken: dict) -> None:
    good = LogSigner.generate().sign_head(3, ROOT, WHEN).to_json()
    data = {**good, **broken} if broken else {"tree_size": 1}
    with pytest.raises(HeadVerificationError):
        SignedTreeHead.from_json(data)
