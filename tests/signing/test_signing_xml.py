"""XML signatures: edXML variants, SOAP, XAdES, tampering, wrapping, XXE, bad signers."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from signing import Policy, Verifier, strict_policy
from signing.report import Indication, SubIndication
from signing.testing import TestPki, edxml_document, sign_xml
from signing.xmldsig import DS_NS

SOAP = (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/>'
        b'<soap:Body Id="body"><GuiHoSo xmlns="urn:dvc"><MaHoSo>H10.1-261126-0001</MaHoSo>'
        b'<SoTien>150000</SoTien></GuiHoSo></soap:Body></soap:Envelope>')
SOAP_BODY = ["/soap:Envelope/soap:Body"]


def _verdict(report):
    return report.indication, report.sub_indication


def test_signed_edxml_passes_and_reports_what_was_signed(verifier: Verifier, pki: TestPki) -> None:
    signed = sign_xml(edxml_document(), pki.good)
    report = verifier.verify(signed, "application/xml")
    assert _verdict(report) == (Indication.TOTAL_PASSED, None), report.render_text()
    sig = report.signatures[0]
    assert sig.signer and "Nguyen Van A" in sig.signer.subject
    assert sig.covered[0].description.startswith("whole document <edXML>")
    assert sig.not_covered == []  # whole-document signature: the attachments are inside it
    assert sig.signed_content and b"Ve viec trien khai LGSP" in sig.signed_content
    assert b"SignatureValue" not in sig.signed_content  # enveloped transform removed the signature
    assert {a.name for a in sig.algorithms} >= {"rsa-sha256", "sha256", "rsa"}
    assert not any(a.weak for a in sig.algorithms)


def test_legacy_rsa_sha1_is_accepted_with_warning_and_refused_by_strict(trust, pki: TestPki) -> None:
    signed = sign_xml(edxml_document(), pki.good, legacy_sha1=True)
    report = Verifier(trust, Policy()).verify(signed)
    assert report.passed
    assert any("rsa-sha1" in w and "weak" in w for w in report.signatures[0].warnings)
    assert [a.weak for a in report.signatures[0].algorithms if a.name in {"rsa-sha1", "sha1"}] == [True, True]
    strict = Verifier(trust, strict_policy()).verify(signed)
    assert _verdict(strict) == (Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE)


def test_signature_without_xmldsig_namespace_is_accepted_with_warning(trust, pki: TestPki) -> None:
    signed = sign_xml(edxml_document(), pki.good, default_namespace=True)
    variant = signed.replace(b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"', b"<Signature")
    assert variant != signed and etree.fromstring(variant).find(f".//{{{DS_NS}}}Signature") is None
    report = Verifier(trust, Policy()).verify(variant)
    assert report.passed, report.render_text()
    assert any("not in the XML-DSig namespace" in w for w in report.signatures[0].warnings)
    strict = Verifier(trust, strict_policy()).verify(variant)
    assert _verdict(strict) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)


def test_empty_digital_signature_element_is_flagged_and_not_passed(verifier: Verifier) -> None:
    doc = edxml_document().replace(b"</TraceHeaderList>", b"</TraceHeaderList><DigitalSignature/>")
    report = verifier.verify(doc)
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.NO_SIGNATURE_FOUND)
    assert any("empty DigitalSignature" in w for w in report.warnings)


def test_xades_bes_reports_claimed_signing_time(verifier: Verifier, pki: TestPki) -> None:
    report = verifier.verify(sign_xml(edxml_document(), pki.good, xades=True))
    assert report.passed, report.render_text()
    sig = report.signatures[0]
    assert sig.format == "XAdES-BES"
    assert sig.claimed_signing_time is not None
    assert any("SignedProperties" in part.description for part in sig.covered)


def test_tampered_content_is_hash_failure(verifier: Verifier, pki: TestPki) -> None:
    signed = sign_xml(edxml_document(), pki.good)
    report = verifier.verify(signed.replace(b"<CodeNumber>123<", b"<CodeNumber>124<"))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


def test_tampered_attachment_in_whole_document_signature_is_hash_failure(verifier: Verifier, pki: TestPki) -> None:
    signed = sign_xml(edxml_document(), pki.good)
    report = verifier.verify(signed.replace(b"JVBERi0xLjQK", b"SGFja2VkCg=="))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


def test_tampered_signature_value_is_crypto_failure(verifier: Verifier, pki: TestPki) -> None:
    signed = sign_xml(edxml_document(), pki.good)
    value = re.search(rb"<ds:SignatureValue>([^<]{8})", signed)
    assert value
    swapped = value.group(1)[::-1] if value.group(1)[::-1] != value.group(1) else b"AAAAAAAA"
    report = verifier.verify(signed.replace(value.group(0), b"<ds:SignatureValue>" + swapped, 1))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)


@pytest.mark.parametrize(("who", "indication", "sub"), [
    ("revoked", Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE),
    ("expired", Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE),
    ("untrusted", Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND),
    ("wrong_key_usage", Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE),
])
def test_bad_signers(verifier: Verifier, pki: TestPki, who: str, indication, sub) -> None:
    report = verifier.verify(sign_xml(edxml_document(), getattr(pki, who)))
    assert _verdict(report) == (indication, sub), report.render_text()


def test_crypto_failure_outranks_a_chain_problem(verifier: Verifier, pki: TestPki) -> None:
    signed = sign_xml(edxml_document(), pki.revoked)
    report = verifier.verify(signed.replace(b"<CodeNumber>123<", b"<CodeNumber>9<"))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    assert any("revoked" in e for e in report.signatures[0].errors)


def test_id_referenced_soap_body_passes_when_caller_requires_the_body(verifier: Verifier, pki: TestPki) -> None:
    signed = sign_xml(SOAP, pki.good, reference_uri="#body")
    report = verifier.verify(signed, must_cover=SOAP_BODY)
    assert report.passed, report.render_text()
    assert report.signatures[0].covered[0].description == 'element <Body> URI="#body"'
    # the default requirement is the whole document, which a Body-only signature does not cover
    whole = verifier.verify(signed)
    assert _verdict(whole) == (Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND)


def _soap_parts(signed: bytes):
    root = etree.fromstring(signed)
    ns = {"soap": "http://schemas.xmlsoap.org/soap/envelope/"}
    return root, root.find("soap:Header", ns), root.find("soap:Body", ns)


def _evil_body() -> etree._Element:
    return etree.fromstring(b'<soap:Body xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" Id="evil">'
                            b'<GuiHoSo xmlns="urn:dvc"><MaHoSo>H10.1-261126-0001</MaHoSo><SoTien>1</SoTien>'
                            b'</GuiHoSo></soap:Body>')


def test_wrapping_moved_signed_element_is_rejected(verifier: Verifier, pki: TestPki) -> None:
    root, header, body = _soap_parts(sign_xml(SOAP, pki.good, reference_uri="#body"))
    wrapper = etree.SubElement(header, "Wrapper")
    wrapper.append(body)  # the genuine signed Body moves into the header
    root.append(_evil_body())  # and an unsigned Body takes its place
    report = verifier.verify(etree.tostring(root), must_cover=SOAP_BODY)
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND)
    # what the library says was signed is the genuine body, never the attacker's
    assert b"<SoTien>150000</SoTien>" in (report.signatures[0].signed_content or b"")


def test_wrapping_duplicated_signed_element_is_rejected(verifier: Verifier, pki: TestPki) -> None:
    root, header, body = _soap_parts(sign_xml(SOAP, pki.good, reference_uri="#body"))
    header.append(etree.fromstring(etree.tostring(body)))  # genuine copy hidden in the header
    body.find("{urn:dvc}GuiHoSo/{urn:dvc}SoTien").text = "1"  # the visible one is altered
    report = verifier.verify(etree.tostring(root), must_cover=SOAP_BODY)
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert "Ambiguous" in report.signatures[0].errors[0]


def test_wrapping_extra_unsigned_element_with_same_id_is_rejected(verifier: Verifier, pki: TestPki) -> None:
    root, header, _ = _soap_parts(sign_xml(SOAP, pki.good, reference_uri="#body"))
    etree.SubElement(header, "Extra", Id="body").text = "unsigned"
    report = verifier.verify(etree.tostring(root), must_cover=SOAP_BODY)
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)


def test_edxml_attachments_outside_an_envelope_signature_are_reported(verifier: Verifier, pki: TestPki) -> None:
    doc = edxml_document().replace(b"<edXMLEnvelope>", b'<edXMLEnvelope Id="envelope">')
    signed = sign_xml(doc, pki.good, reference_uri="#envelope")
    report = verifier.verify(signed, must_cover=["/edXML:edXML/edXML:edXMLEnvelope"])
    assert report.passed, report.render_text()
    sig = report.signatures[0]
    assert sig.not_covered == ["edXML attachment quyet-dinh.pdf (att-1) in AttachmentEncoded"]
    assert any("not covered" in w for w in sig.warnings)
    # and an attachment swapped in transit still verifies - which is exactly why it is reported
    assert verifier.verify(signed.replace(b"JVBERi0xLjQK", b"SGFja2VkCg=="),
                           must_cover=["/edXML:edXML/edXML:edXMLEnvelope"]).passed


XXE = b'<?xml version="1.0"?>\n<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
BOMB = (b'<?xml version="1.0"?>\n<!DOCTYPE edXML [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n')


@pytest.mark.parametrize(("prolog", "ref"), [(XXE, b"&xxe;"), (BOMB, b"&c;")], ids=["xxe", "entity-bomb"])
def test_dtd_and_entities_in_signed_xml_are_format_failure(verifier: Verifier, pki: TestPki, prolog: bytes,
                                                           ref: bytes) -> None:
    signed = sign_xml(edxml_document(), pki.good).split(b"?>", 1)[1]
    hostile = prolog + signed.replace(b"<Subject>", b"<Subject>" + ref, 1)
    report = verifier.verify(hostile)
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert "DTD" in report.errors[0]
    assert "root:" not in report.to_json()


def test_malformed_xml_is_format_failure(verifier: Verifier) -> None:
    report = verifier.verify(b"\x00\x01\x02\x03<?xml version='1.0'?><edXML>", "application/xml")
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)


def test_xades_t_timestamp_proves_the_signing_time(verifier: Verifier, pki: TestPki) -> None:
    report = verifier.verify(sign_xml(edxml_document(), pki.good, xades=True, tsa=pki.tsa))
    assert report.passed, report.render_text()
    sig = report.signatures[0]
    assert sig.format == "XAdES-T"
    assert sig.timestamps[0].valid and sig.timestamps[0].trusted and "LGSP Test TSA" in (sig.timestamps[0].tsa or "")
    assert sig.proven_signing_time == sig.timestamps[0].time


def test_xades_t_signer_expired_before_the_timestamp_fails(verifier: Verifier, pki: TestPki) -> None:
    report = verifier.verify(sign_xml(edxml_document(), pki.expired, xades=True, tsa=pki.tsa))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.EXPIRED)


def test_xades_t_timestamp_from_an_untrusted_tsa(verifier: Verifier, pki: TestPki) -> None:
    report = verifier.verify(sign_xml(edxml_document(), pki.good, xades=True, tsa=pki.untrusted))
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert report.signatures[0].proven_signing_time is None


def test_xades_t_timestamp_over_other_bytes_is_rejected(verifier: Verifier, pki: TestPki) -> None:
    # A genuine token lifted from another signature: its imprint does not match this SignatureValue.
    first = sign_xml(edxml_document(), pki.good, xades=True, tsa=pki.tsa)
    second = sign_xml(edxml_document(200), pki.good, xades=True, tsa=pki.tsa)
    token = re.compile(rb"<xades:EncapsulatedTimeStamp>[^<]+</xades:EncapsulatedTimeStamp>")
    stolen = token.search(second)
    assert stolen
    report = verifier.verify(token.sub(stolen.group(0), first))
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert report.signatures[0].timestamps[0].valid is False


def test_every_signature_of_a_document_is_verified(verifier: Verifier, pki: TestPki) -> None:
    # Person and organisation both sign the SOAP body: two top-level signatures, two reports.
    twice = sign_xml(sign_xml(SOAP, pki.good, reference_uri="#body"), pki.ec, reference_uri="#body")
    report = verifier.verify(twice, must_cover=SOAP_BODY)
    assert report.passed, report.render_text()
    assert len(report.signatures) == 2
    assert ["Nguyen Van A" in (s.signer.subject if s.signer else "") for s in report.signatures] == [True, False]
    forged = verifier.verify(twice.replace(b"<SoTien>150000<", b"<SoTien>1<"), must_cover=SOAP_BODY)
    assert [s.sub_indication for s in forged.signatures] == [SubIndication.HASH_FAILURE] * 2


def test_utf8_bom_is_accepted(verifier: Verifier, pki: TestPki) -> None:
    assert verifier.verify(b"\xef\xbb\xbf" + sign_xml(edxml_document(), pki.good)).passed


def test_revocation_service_down_is_try_later_end_to_end(trust, pki: TestPki, responder) -> None:
    signed = sign_xml(edxml_document(), pki.good)
    responder.ocsp_up = responder.crl_up = False
    report = Verifier(trust, Policy()).verify(signed)
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    soft = Verifier(trust, Policy().with_levels(revocation_available="warn")).verify(signed)
    assert soft.passed and any("soft-fail" in w for w in soft.signatures[0].warnings)


def test_packet_and_its_attached_pdfs_are_all_verified(verifier: Verifier, pki: TestPki) -> None:
    import base64

    from signing.edxml import attachments
    from signing.testing import minimal_pdf, sign_pdf

    good_pdf = base64.b64encode(sign_pdf(minimal_pdf(), pki.good)).decode()
    revoked_pdf = base64.b64encode(sign_pdf(minimal_pdf(), pki.revoked)).decode()
    second = ("<Attachment><ContentId>cid:att-2</ContentId><AttachmentName>phu-luc.pdf</AttachmentName>"
              f"<ContentType>application/pdf</ContentType><ContentTransferEncoded>{revoked_pdf}"
              "</ContentTransferEncoded></Attachment>")
    doc = (edxml_document().replace(b"JVBERi0xLjQK", good_pdf.encode())
           .replace(b"</AttachmentEncoded>", second.encode() + b"</AttachmentEncoded>"))
    assert [(a.content_id, a.is_pdf) for a in attachments(doc)] == [("att-1", True), ("att-2", True)]
    packet, pdfs = verifier.verify_packet(sign_xml(doc, pki.good))
    assert packet.passed
    assert pdfs["quyet-dinh.pdf"].passed
    assert pdfs["phu-luc.pdf"].sub_indication is SubIndication.REVOKED_NO_POE
    broken = doc.replace(good_pdf.encode()[:40], b"!!!!" + good_pdf.encode()[4:40])
    _, pdfs = verifier.verify_packet(broken)
    assert pdfs["quyet-dinh.pdf"].sub_indication is SubIndication.FORMAT_FAILURE


def test_inclusive_c14n_of_a_subset_matches_the_standard() -> None:
    # Canonical XML 1.0 §2.4: the apex carries every in-scope namespace and inherited xml:* attribute;
    # descendants of a default-namespace element stay in it (no xmlns=""), a real undeclaration stays.
    from signing.c14n import inclusive_c14n

    doc = etree.fromstring(b'<a xmlns="urn:a" xmlns:x="urn:x" xml:lang="vi"><Sig xmlns="urn:d"><SI><R><T><U/></T>'
                           b'</R><V xmlns=""><W/></V></SI></Sig></a>')
    subset = doc.find(".//{urn:d}SI")
    assert inclusive_c14n(subset) == (b'<SI xmlns="urn:d" xmlns:x="urn:x" xml:lang="vi"><R><T><U></U></T></R>'
                                      b'<V xmlns=""><W></W></V></SI>')


@pytest.mark.parametrize("exclusive", [False, True], ids=["c14n-1.0", "exc-c14n"])
def test_default_namespace_signature_verifies_with_either_canonicalisation(verifier: Verifier, pki: TestPki,
                                                                           exclusive: bool) -> None:
    # The conformant edXML sample: <Signature xmlns="...xmldsig#"> under the edXML default namespace.
    signed = sign_xml(edxml_document(), pki.good, default_namespace=True, exclusive_c14n=exclusive)
    assert b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"' in signed
    assert verifier.verify(signed).passed
