"""Signature attacks on ``POST /documents`` and on receipt (issue 19 item 2), with a generated PKI and real
edXML signed by signxml, then tampered the way an attacker would: the intake acts on what was signed.

* wrapping: the signed envelope (an ``Id`` reference) moved behind a forged first envelope;
* an envelope-only signature with a swapped attachment;
* an untrusted-CA signer and a revoked signer;
* a signed packet that the edXML XSD rejects.
Each is refused under the default document policy (``require``) and nothing is stored or queued."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from lxml import etree
from sqlalchemy import func, select

from adapters.vdxp.edxml import SignatureInfo, write_document
from lgsp.documents.models import Document
from lgsp.testing.servers import start_server
from signing import Policy, TrustStore, Verifier
from signing.testing import Identity, RevocationResponder, TestPki, build_pki, sign_xml
from tests.documents.conftest import PEER, SENDER, Stack, document

PROBLEM = "https://lgsp.dev/problems/"
EDXML = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
DS = "http://www.w3.org/2000/09/xmldsig#"
FORGED = "Quyết định giả mạo"


@pytest.fixture(scope="module")
def pki() -> Iterator[TestPki]:
    responder = RevocationResponder()
    server = start_server(responder)
    responder.pki = build_pki(server.url)
    yield responder.pki
    server.stop()


@pytest.fixture
def hook(pki: TestPki) -> object:
    verifier = Verifier(TrustStore.from_pem(pki.root_pem), Policy())

    def check(data: bytes, info: SignatureInfo) -> object:
        return verifier.verify(data, "application/xml")

    return check


@pytest.fixture
def signed_docs(docs: Stack, hook: object, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.delenv("LGSP_DOCUMENTS_SIGNATURE_POLICY", raising=False)  # the default policy
    docs.app.api.state.documents_signature_hook = hook
    return docs


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def envelope_signed(signer: Identity, sender: str = SENDER, recipients: tuple[str, ...] = (PEER,)) -> bytes:
    """A packet whose signature covers only ``edXMLEnvelope`` (an ``Id`` reference), not the attachments."""
    root = etree.fromstring(write_document(document(sender=sender, recipients=recipients)))
    envelope = root.find(f"{{{EDXML}}}edXMLEnvelope")
    assert envelope is not None
    envelope.set("Id", "edxml-envelope")
    return sign_xml(_serialise(root), signer, reference_uri="#edxml-envelope")


def wrapped(signer: Identity, **kw: object) -> bytes:
    """The signed envelope moved behind a forged first envelope with another subject (XSW)."""
    root = etree.fromstring(envelope_signed(signer, **kw))  # type: ignore[arg-type]
    signed = root.find(f"{{{EDXML}}}edXMLEnvelope")
    assert signed is not None
    forged = etree.fromstring(etree.tostring(signed))
    del forged.attrib["Id"]
    for sig in list(forged.iter(f"{{{DS}}}Signature")):
        parent = sig.getparent()
        assert parent is not None
        parent.remove(sig)
    subject = forged.find(f".//{{{EDXML}}}Subject")
    assert subject is not None
    subject.text = FORGED
    root.insert(0, forged)
    return _serialise(root)


def swapped_attachment(signer: Identity) -> bytes:
    root = etree.fromstring(envelope_signed(signer))
    encoded = root.find(f".//{{{EDXML}}}ContentTransferEncoded")
    assert encoded is not None
    encoded.text = base64.b64encode(b"%PDF-1.7 a different decision\n").decode()
    return _serialise(root)


def stored(docs: Stack) -> int:
    with docs.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Document)) or 0)


def assert_refused(docs: Stack, data: bytes, sub: str) -> None:
    before = (docs.outbox_count(), stored(docs))
    reply = docs.post_xml(data)
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["type"] == PROBLEM + "signature-invalid" and body["sub_indication"] == sub, body
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert (docs.outbox_count(), stored(docs)) == before  # nothing stored, nothing queued


def test_good_signature_over_the_whole_packet_is_accepted(signed_docs: Stack, pki: TestPki) -> None:
    reply = signed_docs.post_xml(sign_xml(write_document(document()), pki.good))
    assert reply.status_code == 202 and reply.json()["signature"] == "TOTAL_PASSED", reply.text
    signed_docs.deliver_all()


def test_wrapped_signature_is_refused(signed_docs: Stack, pki: TestPki) -> None:
    assert_refused(signed_docs, wrapped(pki.good), "SIGNED_DATA_NOT_FOUND")


def test_envelope_only_signature_with_swapped_attachment_is_refused(signed_docs: Stack, pki: TestPki) -> None:
    assert_refused(signed_docs, swapped_attachment(pki.good), "SIGNED_DATA_NOT_FOUND")
    assert_refused(signed_docs, envelope_signed(pki.good), "SIGNED_DATA_NOT_FOUND")  # attachments unsigned


def test_untrusted_and_revoked_signers_are_refused(signed_docs: Stack, pki: TestPki) -> None:
    assert_refused(signed_docs, sign_xml(write_document(document()), pki.untrusted), "NO_CERTIFICATE_CHAIN_FOUND")
    assert_refused(signed_docs, sign_xml(write_document(document()), pki.revoked), "REVOKED_NO_POE")


def test_unsigned_packet_is_refused_under_require(signed_docs: Stack) -> None:
    reply = signed_docs.post_xml(write_document(document()))
    assert reply.status_code == 422 and reply.json()["code"] == "signature-required", reply.text


def test_report_policy_lets_unknown_ca_through_but_never_wrapping_or_revoked(
        signed_docs: Stack, pki: TestPki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGSP_DOCUMENTS_SIGNATURE_POLICY", "report")
    unknown_ca = signed_docs.post_xml(sign_xml(write_document(document()), pki.untrusted))
    assert unknown_ca.status_code == 202 and unknown_ca.json()["signature"] == "INDETERMINATE", unknown_ca.text
    unsigned = signed_docs.post_xml(write_document(document()))
    assert unsigned.status_code == 202 and unsigned.json()["signature"] == "unsigned", unsigned.text
    assert_refused(signed_docs, sign_xml(write_document(document()), pki.revoked), "REVOKED_NO_POE")
    assert_refused(signed_docs, wrapped(pki.good), "SIGNED_DATA_NOT_FOUND")
    # an untrusted signer hides the coverage failure behind its own sub-indication: still refused
    assert_refused(signed_docs, wrapped(pki.untrusted), "SIGNED_DATA_NOT_FOUND")
    signed_docs.deliver_all()


def test_off_policy_does_not_verify(signed_docs: Stack, pki: TestPki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGSP_DOCUMENTS_SIGNATURE_POLICY", "off")
    reply = signed_docs.post_xml(sign_xml(write_document(document()), pki.revoked))
    assert reply.status_code == 202 and reply.json()["signature"] == "not-checked", reply.text
    signed_docs.deliver_all()


def test_a_hook_that_does_not_say_what_it_verified_cannot_pass_a_packet(signed_docs: Stack, pki: TestPki) -> None:
    signed_docs.app.api.state.documents_signature_hook = lambda raw, info: {"indication": "TOTAL_PASSED"}
    assert_refused(signed_docs, sign_xml(write_document(document()), pki.good), "SIGNED_DATA_NOT_FOUND")


def test_schema_error_in_a_signed_packet_is_an_error(signed_docs: Stack, pki: TestPki) -> None:
    root = etree.fromstring(write_document(document()))
    header = root.find(f".//{{{EDXML}}}MessageHeader")
    assert header is not None
    etree.SubElement(header, f"{{{EDXML}}}Subject").text = "a second subject"  # the XSD allows one
    data = sign_xml(_serialise(root), pki.good)
    reply = signed_docs.post_xml(data)
    assert reply.status_code == 422, reply.text
    assert (reply.json()["type"], reply.json()["code"]) == (PROBLEM + "edxml-invalid", "edxml-schema")


def test_wrapped_incoming_packet_is_rejected_on_receipt(docs: Stack, pki: TestPki, hook: object,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LGSP_DOCUMENTS_SIGNATURE_POLICY", raising=False)
    docs.peer_send(wrapped(pki.good, sender=PEER, recipients=(SENDER,)))
    docs.peer_send(sign_xml(write_document(document(sender=PEER, recipients=(SENDER,))), pki.revoked))
    report = docs.poll(parse_attempts=1, hook=hook)
    assert (report.stored, report.rejected) == (0, 2)
    items = docs.http.get("/documents", params={"direction": "in"}, headers=docs.auth()).json()["items"]
    assert all(item["subject"] != FORGED for item in items)
