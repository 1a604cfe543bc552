"""edXML signatures through the pluggable hook, with the real ``signing/`` verifier and a generated PKI
(its CRL/OCSP responder on a real 127.0.0.1 port): a good signature passes, a tampered packet is refused
at the façade and rejected (``fail``) on receipt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.vdxp.edxml import SignatureInfo, write_document
from lgsp.testing.servers import start_server
from signing import Policy, TrustStore, Verifier
from signing.testing import RevocationResponder, TestPki, build_pki, sign_xml
from tests.documents.conftest import PEER, SENDER, Stack, document

PROBLEM = "https://lgsp.dev/problems/"


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


def test_signed_packet_passes_and_tampered_is_refused(docs: Stack, pki: TestPki, hook: object) -> None:
    docs.app.api.state.documents_signature_hook = hook
    signed = sign_xml(write_document(document()), pki.good)
    accepted = docs.post_xml(signed)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["signature"] == "TOTAL_PASSED"
    tampered = sign_xml(write_document(document()), pki.good).replace(
        "liên thông".encode(), "LIÊN THÔNG".encode())
    refused = docs.post_xml(tampered)
    assert refused.status_code == 422 and refused.json()["type"] == PROBLEM + "signature-invalid", refused.text
    docs.deliver_all()


def test_tampered_incoming_packet_is_rejected(docs: Stack, pki: TestPki, hook: object) -> None:
    good = sign_xml(write_document(document(sender=PEER, recipients=(SENDER,))), pki.good)
    bad = sign_xml(write_document(document(sender=PEER, recipients=(SENDER,))), pki.good).replace(
        "liên thông".encode(), "LIÊN THÔNG".encode())
    docs.peer_send(good)
    docs.peer_send(bad)
    report = docs.poll(parse_attempts=1, hook=hook)
    assert (report.stored, report.rejected) == (1, 1)
    items = docs.http.get("/documents", params={"direction": "in"}, headers=docs.auth()).json()["items"]
    assert items[0]["signature"] == "TOTAL_PASSED"
