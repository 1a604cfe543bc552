"""Cosignature freshness: with ``max_cosignature_age_seconds`` in the auditor's trust file, an old (or
future-dated) cosignature does not count towards the quorum, so an old once-cosigned view cannot pass as current."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lgsp.audit.bundle_format import Report
from lgsp.audit.note import ALG_COSIGNATURE, NoteSigner, checkpoint_text
from lgsp.audit.sth import LogKeyRing, LogPublicKey
from lgsp.audit.trust import TrustFile, check_quorum

ORIGIN = "lgsp.test/audit"
NOW = 1_800_000_000
HEAD: Any = SimpleNamespace(tree_size=42, root_hash=hashlib.sha256(b"root").digest())


def cosign(signer: NoteSigner, when: int) -> str:
    return signer.signature_line(checkpoint_text(ORIGIN, HEAD.tree_size, HEAD.root_hash), when)


def verdict(trust: TrustFile, lines: list[str]) -> tuple[bool | None, str]:
    report = Report()
    check_quorum(report, trust, HEAD, lines, now=NOW)
    [check] = report.checks
    return check.ok, check.detail


@pytest.fixture
def witnesses() -> list[NoteSigner]:
    return [NoteSigner(f"w{i}.example/witness", Ed25519PrivateKey.generate(), ALG_COSIGNATURE) for i in (1, 2)]


def test_old_and_future_cosignatures_do_not_count_when_freshness_is_required(witnesses: list[NoteSigner]) -> None:
    one, two = witnesses
    trust = TrustFile(ORIGIN, LogKeyRing(), [one.verifier, two.verifier], 2, max_cosignature_age_seconds=3600)
    assert verdict(trust, [cosign(one, NOW - 60), cosign(two, NOW - 3599)])[0] is True
    ok, detail = verdict(trust, [cosign(one, NOW - 60), cosign(two, NOW - 7200)])
    assert ok is False and "w2.example/witness is 7200 s old" in detail
    ok, detail = verdict(trust, [cosign(one, NOW - 60), cosign(two, NOW + 3600)])
    assert ok is False and "ahead of this clock" in detail
    assert verdict(trust, [cosign(one, NOW - 60), cosign(two, NOW + 120)])[0] is True  # within the clock skew


def test_without_the_setting_any_valid_cosignature_counts_and_the_setting_round_trips(
        witnesses: list[NoteSigner]) -> None:
    one, two = witnesses
    trust = TrustFile(ORIGIN, LogKeyRing(), [one.verifier, two.verifier], 2)
    assert verdict(trust, [cosign(one, NOW - 10**7), cosign(two, NOW - 10**7)])[0] is True
    ring = LogKeyRing([LogPublicKey(Ed25519PrivateKey.generate().public_key())])
    fresh = TrustFile(ORIGIN, ring, [one.verifier], 1, max_cosignature_age_seconds=86400)
    assert TrustFile.from_json(fresh.to_json()).max_cosignature_age_seconds == 86400
    assert TrustFile.from_json(TrustFile(ORIGIN, ring, [one.verifier], 1).to_json()).max_cosignature_age_seconds is None


@pytest.mark.parametrize("value", [0, -5, "3600", True, 1.5])
def test_a_bad_freshness_value_is_refused(witnesses: list[NoteSigner], value: object) -> None:
    one, _ = witnesses
    ring = LogKeyRing([LogPublicKey(Ed25519PrivateKey.generate().public_key())])
    data = TrustFile(ORIGIN, ring, [one.verifier], 1).to_json()
    TrustFile.from_json(data)  # valid without the setting
    data["max_cosignature_age_seconds"] = value
    with pytest.raises(ValueError, match="max_cosignature_age_seconds"):
        TrustFile.from_json(data)
