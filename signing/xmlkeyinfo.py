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
from .xmltree import DS_NS, XADES_NS


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


_HMAC_REASON = ("signature method {name} is an HMAC (a shared-secret code, not a public-key signature): refused, "
                "it names no signer and lgsp holds no shared secrets")
#: What a KeyInfo may hold instead of the signer's certificate, and why lgsp cannot use it.
_NOT_A_CERTIFICATE = {
    "RetrievalMethod": "RetrievalMethod{uri} is never followed (lgsp fetches nothing a signature points to)",
    "KeyInfoReference": "KeyInfoReference{uri} is never followed",
    "KeyValue": "a bare public key (KeyValue) names no signer and has no certificate to validate",
    "DEREncodedKeyValue": "a bare public key (DEREncodedKeyValue) names no signer and has no certificate to "
                          "validate",
    "KeyName": "KeyName names a key lgsp does not hold",
    "X509IssuerSerial": "X509IssuerSerial refers to a certificate the signature does not carry",
    "X509SKI": "X509SKI refers to a certificate the signature does not carry",
    "X509SubjectName": "X509SubjectName refers to a certificate the signature does not carry",
    "X509Digest": "X509Digest refers to a certificate the signature does not carry",
    "SecurityTokenReference": "a WS-Security SecurityTokenReference is not resolved (the certificate must be in "
                              "KeyInfo/X509Data)",
}


def missing_signer_reason(signature: etree._Element, signature_method: str | None) -> str:
    """Why a signature without a KeyInfo certificate cannot be verified, naming what it carries instead.

    A bare "no certificate" misled for an HMAC signature (no signer at all) and for a KeyInfo that points
    elsewhere (RetrievalMethod, a token reference): the report now says which, and that it is not followed.
    """
    name = _alg_name(signature_method)
    if name.startswith("hmac"):
        return _HMAC_REASON.format(name=name)
    key_info = signature.find(f"{{{DS_NS}}}KeyInfo")
    found: list[str] = []
    for element in key_info.iter() if key_info is not None else ():
        if not isinstance(element.tag, str):
            continue
        reason = _NOT_A_CERTIFICATE.get(etree.QName(element).localname)
        uri = element.get("URI")
        text = reason.format(uri=f" URI={uri[:200]!r}" if uri is not None else "") if reason else None
        if text and text not in found:
            found.append(text)
    detail = "; ".join(found[:4]) if found else ("KeyInfo holds no usable key information" if key_info is not None
                                                 else "the signature has no KeyInfo")
    return f"no X509Certificate in KeyInfo; the signer cannot be identified: {detail}"
