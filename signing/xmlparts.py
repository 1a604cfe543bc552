"""The parts of one ds:Signature the verifier reads before and after signxml, gathered in one walk.

The verifier needs the signature method, each reference's URI and digest, the KeyInfo certificates and
whether XAdES properties are present. Asking lxml for each with a path (``find("ds:SignedInfo/…")``)
compiles and runs a path per question — a dozen per signature, more than the rest of the report costs —
so they are read here by walking the few children once. What is gathered is what those paths select
(first match where ``find`` was used, every match in document order where ``iterfind`` was).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from .limits import (
    MAX_CERTIFICATES,
    MAX_PATH_CERTIFICATES,
    MAX_REFERENCES,
    MAX_REVOCATION_VALUES,
    MAX_SIGNATURES,
    MAX_TRANSFORMS,
    over,
)
from .xmltree import DS_NS, XADES_NS, XmlFormatError

_SIGNED_INFO = f"{{{DS_NS}}}SignedInfo"
_SIGNATURE_METHOD = f"{{{DS_NS}}}SignatureMethod"
_REFERENCE = f"{{{DS_NS}}}Reference"
_DIGEST_METHOD = f"{{{DS_NS}}}DigestMethod"
_DIGEST_VALUE = f"{{{DS_NS}}}DigestValue"
_KEY_INFO = f"{{{DS_NS}}}KeyInfo"
_X509_DATA = f"{{{DS_NS}}}X509Data"
_X509_CERTIFICATE = f"{{{DS_NS}}}X509Certificate"
_TRANSFORMS = f"{{{DS_NS}}}Transforms"
_TRANSFORM = f"{{{DS_NS}}}Transform"
_QUALIFYING = f"{{{XADES_NS}}}QualifyingProperties"


@dataclass(frozen=True)
class ReferencePart:
    """One ds:SignedInfo/ds:Reference: its URI (None when absent) and its digest method and value."""

    element: etree._Element
    uri: str | None
    digest_method: str | None  # the Algorithm of the first ds:DigestMethod child
    digest_value: str | None  # the text of the first ds:DigestValue child
    transforms: tuple[str | None, ...] = ()  # the Algorithm of each ds:Transforms/ds:Transform, in order


@dataclass(frozen=True)
class SignatureParts:
    signature_method: str | None  # Algorithm of the first ds:SignedInfo/ds:SignatureMethod
    references: tuple[ReferencePart, ...]  # every ds:SignedInfo/ds:Reference
    certificate_texts: tuple[str, ...]  # every ds:KeyInfo/ds:X509Data/ds:X509Certificate text, as sent
    is_xades: bool  # a xades:QualifyingProperties anywhere below the signature

    @property
    def external_uris(self) -> list[str]:
        """Reference URIs that point outside the document (a detached signature)."""
        return [uri for ref in self.references if (uri := ref.uri) and not uri.startswith("#")]


def _first(element: etree._Element, tag: str) -> etree._Element | None:
    for child in element:
        if child.tag == tag:
            return child
    return None


def signature_parts(signature: etree._Element) -> SignatureParts:
    method: str | None = None
    method_found = False
    references: list[ReferencePart] = []
    texts: list[str] = []
    for child in signature:
        tag = child.tag
        if tag == _SIGNED_INFO:
            for item in child:
                if item.tag == _SIGNATURE_METHOD and not method_found:
                    method, method_found = item.get("Algorithm"), True
                elif item.tag == _REFERENCE:
                    dm, dv = _first(item, _DIGEST_METHOD), _first(item, _DIGEST_VALUE)
                    transforms = _first(item, _TRANSFORMS)
                    algorithms = tuple(t.get("Algorithm") for t in transforms if t.tag == _TRANSFORM) \
                        if transforms is not None else ()
                    references.append(ReferencePart(item, item.get("URI"), dm.get("Algorithm") if dm is not None
                                                    else None, dv.text if dv is not None else None, algorithms))
        elif tag == _KEY_INFO:
            for data in child:
                if data.tag == _X509_DATA:
                    texts += [cert.text or "" for cert in data if cert.tag == _X509_CERTIFICATE]
    is_xades = next(signature.iter(_QUALIFYING), None) is not None
    return SignatureParts(method, tuple(references), tuple(texts), is_xades)


_XADES = {"xades": XADES_NS}


def _xades_counts(signature: etree._Element) -> tuple[int, int]:
    """(CertificateValues certificates, RevocationValues CRLs + OCSP responses), counted before decoding."""
    props = signature.find(".//xades:UnsignedSignatureProperties", namespaces=_XADES)
    if props is None:
        return 0, 0
    certs = len(props.findall("xades:CertificateValues/xades:EncapsulatedX509Certificate", namespaces=_XADES))
    values = sum(len(props.findall(f"xades:RevocationValues/xades:{kind}Values/xades:Encapsulated{kind}Value",
                                   namespaces=_XADES)) for kind in ("CRL", "OCSP"))
    return certs, values


def check_structure(signatures: list[etree._Element]) -> None:
    """The bounds of :mod:`signing.limits`, counted before any reference is resolved or any certificate or
    revocation value decoded (XmlFormatError)."""
    problem = over(len(signatures), MAX_SIGNATURES, "top-level XML signatures")
    references = 0
    for signature in signatures:
        if problem:
            break
        parts = signature_parts(signature)
        references += len(parts.references)
        cert_values, revocation_values = _xades_counts(signature) if parts.is_xades else (0, 0)
        problem = (over(references, MAX_REFERENCES, "ds:Reference elements")
                   or over(max((len(r.transforms) for r in parts.references), default=0), MAX_TRANSFORMS,
                           "ds:Transform elements in one Reference")
                   or over(len(parts.certificate_texts), MAX_CERTIFICATES, "X509Certificate elements in one KeyInfo")
                   or over(cert_values, MAX_CERTIFICATES, "certificates in one XAdES CertificateValues")
                   or over(len(parts.certificate_texts) + cert_values, MAX_PATH_CERTIFICATES,
                           "certificates in one signature's KeyInfo and CertificateValues together")
                   or over(revocation_values, MAX_REVOCATION_VALUES,
                           "CRLs and OCSP responses in one XAdES RevocationValues"))
    if problem:
        raise XmlFormatError(problem)
