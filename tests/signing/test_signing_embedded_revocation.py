"""Issue 12 §5: revocation evidence matched by issuer+serial, embedded CRL/OCSP used offline, a row per cert."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from signing import Policy, TrustStore, Verifier
from signing.report import Indication, SubIndication
from signing.testing import (
    RevocationResponder,
    TestPki,
    add_dss,
    add_revocation_values,
    edxml_document,
    minimal_pdf,
    sign_pdf,
    sign_xml,
)


def _offline(responder: RevocationResponder) -> None:
    responder.ocsp_up = responder.crl_up = False


def test_xades_revocation_values_validate_offline(verifier: Verifier, pki: TestPki,
                                                  responder: RevocationResponder) -> None:
    signed = add_revocation_values(sign_xml(edxml_document(), pki.good, xades=True), pki, pki.good)
    _offline(responder)
    report = verifier.verify(signed)
    assert report.passed, report.render_text()
    sig = report.signatures[0]
    assert {ev.certificate.split(",")[0] for ev in sig.revocation} == {"Common Name: Nguyen Van A",
                                                                         "Common Name: LGSP Test Issuing CA"}
    assert all(ev.source == "embedded (XAdES RevocationValues)" and ev.status == "good" for ev in sig.revocation)


def test_xades_without_revocation_values_offline_is_try_later(verifier: Verifier, pki: TestPki,
                                                              responder: RevocationResponder) -> None:
    signed = sign_xml(edxml_document(), pki.good, xades=True)
    _offline(responder)
    assert verifier.verify(signed).sub_indication is SubIndication.TRY_LATER


def test_embedded_evidence_of_a_revoked_signer_is_revoked_offline(verifier: Verifier, pki: TestPki,
                                                                  responder: RevocationResponder) -> None:
    signed = add_revocation_values(sign_xml(edxml_document(), pki.revoked, xades=True), pki, pki.revoked)
    _offline(responder)
    report = verifier.verify(signed)
    assert (report.indication, report.sub_indication) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)


def test_pades_dss_validates_offline(verifier: Verifier, pki: TestPki, responder: RevocationResponder) -> None:
    signed = add_dss(sign_pdf(minimal_pdf(), pki.good), pki, pki.good)
    _offline(responder)
    report = verifier.verify(signed)
    assert report.passed, report.render_text()
    assert report.signatures[0].revocation
    assert all(ev.source == "embedded (PDF DSS)" for ev in report.signatures[0].revocation)


def _foreign_crl_listing(pki: TestPki, serial: int) -> bytes:
    """A CRL of *another* CA (the rogue root) that happens to list ``serial``."""
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(pki.untrusted_root.cert.subject)
               .last_update(now - dt.timedelta(minutes=1)).next_update(now + dt.timedelta(hours=1))
               .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                        .revocation_date(now - dt.timedelta(days=1)).build()))
    return builder.sign(pki.untrusted_root.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_a_crl_of_another_issuer_with_the_same_serial_is_not_evidence(trust: TrustStore, pki: TestPki,
                                                                      responder: RevocationResponder) -> None:
    responder.ocsp_up = False  # force the CRL path
    responder.crl_override["/crl/intermediate.crl"] = _foreign_crl_listing(pki, pki.good.cert.serial_number)
    try:
        report = Verifier(trust, Policy()).verify(sign_xml(edxml_document(), pki.good))
    finally:
        responder.crl_override.clear()
    sig = report.signatures[0]
    leaf_rows = [ev for ev in sig.revocation if ev.kind == "CRL" and "Nguyen Van A" in ev.certificate]
    assert leaf_rows and all(ev.status != "revoked" for ev in leaf_rows), sig.revocation
    assert any("not by the certificate's issuer" in (ev.error or "") for ev in leaf_rows)
    assert report.sub_indication is not SubIndication.REVOKED_NO_POE


def test_every_chain_certificate_has_an_evidence_row(verifier: Verifier, pki: TestPki) -> None:
    report = verifier.verify(sign_xml(edxml_document(), pki.good))
    sig = report.signatures[0]
    below_anchor = {c.subject for c in sig.chain[:-1]}
    assert below_anchor <= {ev.certificate for ev in sig.revocation}


def test_a_cached_chain_is_not_reported_for_a_document_without_that_evidence(
        verifier: Verifier, pki: TestPki, responder: RevocationResponder) -> None:
    """The chain cache is keyed by the embedded evidence too. One verifier, the same signer and certificates,
    offline: first the document with its RevocationValues, then the same document with them removed (they are
    unsigned properties, so the signature still holds) — the second must not borrow the first's evidence."""
    from lxml import etree

    _offline(responder)
    with_evidence = add_revocation_values(sign_xml(edxml_document(), pki.good, xades=True), pki, pki.good)
    first = verifier.verify(with_evidence)
    assert first.passed, first.render_text()
    again = verifier.verify(with_evidence)  # same evidence: the cached chain serves
    assert again.passed and all(ev.from_cache for ev in again.signatures[0].revocation)
    tree = etree.fromstring(with_evidence)
    values = tree.xpath("//*[local-name()='RevocationValues']")
    assert values
    for element in values:
        element.getparent().remove(element)
    without = verifier.verify(etree.tostring(tree))
    assert without.sub_indication is SubIndication.TRY_LATER, without.render_text()
    assert not any(ev.source.startswith("embedded") for ev in without.signatures[0].revocation)
