"""Issue 12 §4: a signer whose own certificate is a trust anchor is still checked (validity, revocation)."""

from __future__ import annotations

import pytest

from signing import Check, Level, Policy, TrustStore, Verifier
from signing.report import Indication, SubIndication
from signing.testing import Identity, TestPki, edxml_document, minimal_pdf, sign_jws, sign_pdf, sign_xml


def _documents(signer: Identity) -> dict[str, bytes]:
    return {"xml": sign_xml(edxml_document(), signer), "pdf": sign_pdf(minimal_pdf(), signer),
            "jws": sign_jws(b'{"a": 1}', signer).encode()}


@pytest.mark.parametrize(("who", "sub"), [("expired", SubIndication.OUT_OF_BOUNDS_NO_POE),
                                          ("revoked", SubIndication.REVOKED_NO_POE)])
@pytest.mark.parametrize("fmt", ["xml", "pdf", "jws"])
def test_pinned_signer_is_still_checked(pki: TestPki, who: str, sub: SubIndication, fmt: str) -> None:
    signer: Identity = getattr(pki, who)
    pinned = TrustStore.from_pem(pki.root_pem, signer.cert_pem)  # the signer itself is an anchor
    report = Verifier(pinned, Policy()).verify(_documents(signer)[fmt])
    assert (report.indication, report.sub_indication) == (Indication.INDETERMINATE, sub), report.render_text()
    assert any("pinned signer" in e for e in report.signatures[0].errors)


def test_only_the_pinned_signer_trusted_still_checks_revocation_through_its_issuer(pki: TestPki) -> None:
    report = Verifier(TrustStore.from_pem(pki.revoked.cert_pem), Policy()).verify(
        sign_xml(edxml_document(), pki.revoked))
    assert report.sub_indication is SubIndication.REVOKED_NO_POE, report.render_text()


def test_good_pinned_signer_passes_with_revocation_evidence(pki: TestPki) -> None:
    verifier = Verifier(TrustStore.from_pem(pki.root_pem, pki.good.cert_pem), Policy())
    for fmt, data in _documents(pki.good).items():
        report = verifier.verify(data)
        assert report.passed, (fmt, report.render_text())
        assert report.signatures[0].revocation, fmt


def test_policy_can_explicitly_waive_the_pinned_signer_checks(pki: TestPki) -> None:
    policy = Policy().with_levels(pinned_signer="warn")
    report = Verifier(TrustStore.from_pem(pki.expired.cert_pem), policy).verify(
        sign_xml(edxml_document(), pki.expired))
    assert report.passed, report.render_text()
    assert any("pinned signer" in w for w in report.signatures[0].warnings)
    assert Policy.from_mapping({"checks": {"pinned_signer": "ignore"}}).level(Check.PINNED_SIGNER) is Level.IGNORE
