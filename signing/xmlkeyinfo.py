"""What an XML signature carries about its signer: the KeyInfo certificates (decoded once, signer told
apart from intermediates), the key's algorithm and size, and XAdES-X-L certificate and revocation values.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from lxml import etree

from .der import load_certificate
from .report import AlgorithmUse
from .revlimits import DEFAULT_MAX_CRL_BYTES, crl_size_problem
from .revocation import EmbeddedRevocation
from .xmltree import XADES_NS


@dataclass(frozen=True)
class _KeyInfoCerts:
    """KeyInfo certificates decoded once: the signer (it issued no other in the list) and intermediates."""

    leaf: x509.Certificate
    asn1_leaf: asn1_x509.Certificate
    asn1_intermediates: tuple[asn1_x509.Certificate, ...]
    # Read once: cryptography builds a new datetime / key object on every property access.
    not_before: datetime
    not_after: datetime
    key: tuple[str, int | None]


def _decode_certs(texts: tuple[str, ...]) -> _KeyInfoCerts:
    """Decode with asn1crypto from the original bytes; only the signer needs a ``cryptography`` object (for
    signxml), so an intermediate that ``cryptography`` refuses (BER lengths) still reaches path validation."""
    ders = [base64.b64decode(text, validate=True) for text in texts]  # junk in the base64 is malformed input
    certs = [load_certificate(der) for der in ders]
    issuers = {c.issuer.hashable for c in certs if c.issuer != c.subject}
    leaf_index = next((i for i, c in enumerate(certs) if c.subject.hashable not in issuers), 0)
    rest = [i for i in range(len(certs)) if i != leaf_index]
    leaf = x509.load_der_x509_certificate(certs[leaf_index].dump())
    key = _key_use(leaf)
    return _KeyInfoCerts(leaf, certs[leaf_index], tuple(certs[i] for i in rest), leaf.not_valid_before_utc,
                         leaf.not_valid_after_utc, (key.name, key.key_size))


def _xades_values(signature: etree._Element, max_crl_bytes: int = DEFAULT_MAX_CRL_BYTES) -> tuple[
        EmbeddedRevocation | None, tuple[asn1_x509.Certificate, ...]]:
    """XAdES-X-L ``RevocationValues`` and ``CertificateValues`` (ETSI EN 319 132-1 §5.5.1-2): the evidence
    a long-term signature carries so it can be validated offline. Raises ValueError on undecodable values
    and on a CRL over ``max_crl_bytes`` (before it is parsed: its entries are read one Python object each)."""
    ns = {"xades": XADES_NS}
    props = signature.find(".//xades:UnsignedSignatureProperties", namespaces=ns)
    if props is None:
        return None, ()

    def blobs(path: str) -> list[bytes]:
        return [base64.b64decode("".join((node.text or "").split()))
                for node in props.iterfind(path, namespaces=ns)]

    crl_blobs = blobs("xades:RevocationValues/xades:CRLValues/xades:EncapsulatedCRLValue")
    for blob in crl_blobs:
        problem = crl_size_problem(len(blob), max_crl_bytes)
        if problem:
            raise ValueError(f"XAdES RevocationValues: {problem}")
    crls = [asn1_crl.CertificateList.load(b) for b in crl_blobs]
    ocsps = [asn1_ocsp.OCSPResponse.load(b) for b in blobs("xades:RevocationValues/xades:OCSPValues/"
                                                            "xades:EncapsulatedOCSPValue")]
    for item in crls:
        _ = item.issuer.human_friendly  # parse now: a broken value is a format failure, not a later crash
    for response in ocsps:
        _ = response["response_status"].native
    certs = tuple(load_certificate(b) for b in blobs("xades:CertificateValues/xades:EncapsulatedX509Certificate"))
    embedded = EmbeddedRevocation(crls, ocsps, "embedded (XAdES RevocationValues)")
    return (embedded if embedded else None), certs


def _alg_name(uri: str | None) -> str:
    return (uri or "unknown").rsplit("#", 1)[-1].lower()


def _key_use(cert: x509.Certificate) -> AlgorithmUse:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return AlgorithmUse("key", "rsa", key.key_size)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return AlgorithmUse("key", "ecdsa", key.curve.key_size)
    if isinstance(key, dsa.DSAPublicKey):
        return AlgorithmUse("key", "dsa", key.key_size)
    return AlgorithmUse("key", type(key).__name__.lower())
