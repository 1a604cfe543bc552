"""Issue 12 §2: certificates are validated on the bytes their issuer signed, never on a re-encoding."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from joserfc import jws
from joserfc.jwk import RSAKey
from lxml import etree

from signing import TrustStore, Verifier
from signing.der import fingerprint, load_certificate
from signing.testing import TestPki, edxml_document, reencoding_sensitive_copy, sign_xml
from signing.xmldsig import DS_NS


def _b64(der: bytes) -> str:
    return base64.b64encode(der).decode()


def test_the_fixture_really_is_sensitive_to_re_encoding(pki: TestPki) -> None:
    from asn1crypto import x509 as asn1_x509

    ber = reencoding_sensitive_copy(pki.intermediate, pki.root)
    assert asn1_x509.Certificate.load(ber).dump(force=True) != ber  # asn1crypto would change it
    cert = load_certificate(ber)
    assert cert.contents == asn1_x509.Certificate.load(ber).contents  # same signed content, definite length
    assert fingerprint(cert) == fingerprint(cert)  # and hashing it twice leaves it alone
    assert cert["tbs_certificate"]["issuer_unique_id"].contents == b"\x04\x01\x20"


def test_jws_chain_with_a_unique_id_intermediate_validates(verifier: Verifier, pki: TestPki) -> None:
    intermediate = reencoding_sensitive_copy(pki.intermediate, pki.root)
    header = {"alg": "RS256", "x5c": [_b64(pki.good.cert.public_bytes(serialization.Encoding.DER)),
                                      _b64(intermediate)]}
    token = jws.serialize_compact(header, b'{"hoSo": 1}', RSAKey.import_key(pki.good.key_pem))
    report = verifier.verify(token.encode())
    assert report.passed, report.render_text()
    assert report.signatures[0].chain[1].subject.startswith("Common Name: LGSP Test Issuing CA")


def test_xml_keyinfo_with_a_unique_id_intermediate_validates(verifier: Verifier, pki: TestPki) -> None:
    signed = sign_xml(edxml_document(), pki.good)
    root = etree.fromstring(signed)
    certs = root.findall(f".//{{{DS_NS}}}X509Certificate")
    inter_der = pki.intermediate.cert.public_bytes(serialization.Encoding.DER)
    node = next(n for n in certs if base64.b64decode("".join((n.text or "").split())) == inter_der)
    node.text = _b64(reencoding_sensitive_copy(pki.intermediate, pki.root))  # KeyInfo is not under the digest
    report = verifier.verify(etree.tostring(root))
    assert report.passed, report.render_text()


def test_trust_anchor_with_unique_ids_is_loaded_without_re_encoding(pki: TestPki) -> None:
    ber = reencoding_sensitive_copy(pki.intermediate, pki.root)
    store = TrustStore.from_pem(ber)
    assert len(store) == 1 and store.anchors[0].contents == load_certificate(ber).contents
