"""Policy files with levels and dated algorithm rules; trust stores with several roots per authority."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from signing import Check, Level, Policy, TrustStore, TrustStoreError, Verifier
from signing.report import Indication, SubIndication
from signing.testing import TestPki, _Issuer, _ku, _name, edxml_document, new_rsa, sign_xml


def test_policy_file_sets_levels_and_dated_rules(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "name: can-tho\nversion: '2026.1'\nchecks:\n  weak_algorithm: fail\n  ocsp_nonce: ignore\n"
        "algorithms:\n  - {name: sha1, weak_after: '2030-01-01'}\n  - {name: rsa, min_key_size: 3072}\n"
        "revocation: {timeout_seconds: 2}\n"
    )
    policy = Policy.from_file(path)
    assert policy.label == "can-tho v2026.1"
    assert policy.level(Check.WEAK_ALGORITHM) is Level.FAIL
    assert policy.level(Check.OCSP_NONCE) is Level.IGNORE
    assert policy.level(Check.KEY_USAGE) is Level.FAIL  # default kept
    assert policy.revocation_timeout == 2
    # SHA-1 acceptable before its date, weak after it
    assert not policy.is_weak("rsa-sha1", dt.datetime(2029, 12, 31, tzinfo=dt.UTC))
    assert policy.is_weak("rsa-sha1", dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert policy.is_weak("rsa", key_size=2048) and not policy.is_weak("rsa", key_size=4096)


def test_default_policy_calls_sha1_and_short_rsa_weak() -> None:
    policy = Policy()
    assert policy.is_weak("sha1") and policy.is_weak("rsa-sha1")
    assert not policy.is_weak("rsa-sha256", key_size=2048)
    assert policy.is_weak("rsa", key_size=1024)


@pytest.mark.parametrize("content", ["checks: {weak_algorithm: maybe}\n", "chekcs: {}\n", "- a list\n"])
def test_bad_policy_files_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(content)
    with pytest.raises(ValueError):
        Policy.from_file(path)


def test_trust_folder_with_reissued_root_accepts_signers_of_both(tmp_path: Path, pki: TestPki) -> None:
    # A re-issued national root: same subject, new key. Signers under the old and the new root must
    # both validate when the folder holds both.
    mk = _Issuer(pki.base_url)
    new_root = mk.issue("root2", pki.root.cert.subject, new_rsa(), None, ca=True, ku=_ku(ca=True))
    signer = mk.issue("s", _name("Signer Under New Root"), new_rsa(), new_root, ku=_ku(sign=True, nr=True))
    (tmp_path / "old.pem").write_bytes(pki.root_pem)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "new.der").write_bytes(new_root.cert.public_bytes(serialization.Encoding.DER))
    store = TrustStore.from_paths([tmp_path])
    assert len(store) == 2
    assert [len(roots) for roots in store.by_authority().values()] == [2]  # one authority, two roots
    verifier = Verifier(store, Policy().with_levels(revocation_available="warn"))
    doc = edxml_document()
    assert verifier.verify(sign_xml(doc, pki.good)).passed
    assert verifier.verify(sign_xml(doc, signer)).passed
    only_old = Verifier(TrustStore.from_pem(pki.root_pem), Policy().with_levels(revocation_available="warn"))
    report = only_old.verify(sign_xml(doc, signer))
    assert report.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def test_trust_store_errors_are_explicit(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError, match="no such file"):
        TrustStore.from_paths([tmp_path / "missing"])
    with pytest.raises(TrustStoreError, match="no certificate files"):
        TrustStore.from_paths([tmp_path])
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(TrustStoreError, match=r"bad\.pem"):
        TrustStore.from_paths([bad])


def test_nothing_is_trusted_without_anchors(pki: TestPki) -> None:
    from signing import verify

    with pytest.raises(ValueError, match="trust"):
        verify(b"<a/>")
    report = Verifier(TrustStore(), Policy()).verify(sign_xml(edxml_document(), pki.good))
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
