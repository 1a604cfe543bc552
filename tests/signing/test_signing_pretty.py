"""Issue 12 §3: a pretty-printed enveloped signature is not a wrapping alarm (whitespace after Signature)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import XMLSigner

from signing import Verifier
from signing.report import Indication, SubIndication
from signing.testing import TestPki

PRETTY_SOAP = b"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body Id="body">
    <GuiHoSo xmlns="urn:dvc">
      <MaHoSo>H10.1-261126-0001</MaHoSo>
    </GuiHoSo>
    <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"/>
  </soap:Body>
</soap:Envelope>"""
BODY = ["/soap:Envelope/soap:Body"]


def _sign(pki: TestPki, c14n: str) -> bytes:
    chain = [c.public_bytes(serialization.Encoding.PEM).decode() for c in pki.good.chain]
    root = etree.fromstring(PRETTY_SOAP)
    signed = XMLSigner(c14n_algorithm=c14n).sign(root, key=pki.good.key_pem, cert=chain, reference_uri="#body")
    return etree.tostring(signed)


@pytest.mark.parametrize("c14n", ["http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
                                  "http://www.w3.org/2001/10/xml-exc-c14n#"])
def test_pretty_printed_enveloped_signature_inside_the_signed_element_passes(verifier: Verifier, pki: TestPki,
                                                                             c14n: str) -> None:
    signed = _sign(pki, c14n)
    assert b"</ds:Signature>\n  </soap:Body>" in signed  # whitespace after the Signature element
    report = verifier.verify(signed, must_cover=BODY)
    assert report.passed, report.render_text()


def test_covered_whitespace_is_still_covered(verifier: Verifier, pki: TestPki) -> None:
    signed = _sign(pki, "http://www.w3.org/2001/10/xml-exc-c14n#")
    changed = signed.replace(b"</ds:Signature>\n  </soap:Body>", b"</ds:Signature>\n    </soap:Body>")
    assert changed != signed
    report = verifier.verify(changed, must_cover=BODY)
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


def test_covered_digest_is_the_sha256_of_the_covered_bytes(verifier: Verifier, pki: TestPki) -> None:
    import hashlib

    report = verifier.verify(_sign(pki, "http://www.w3.org/2001/10/xml-exc-c14n#"), must_cover=BODY)
    sig = report.signatures[0]
    assert sig.signed_content is not None
    assert sig.covered[0].sha256 == hashlib.sha256(sig.signed_content).hexdigest()
