"""Signed XML fixtures made with the test PKI: edXML packets with enveloped XML-DSig / XAdES (BES, T,
X-L style), and a hand-built detached signature.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signing.testing_pki import Identity, TestPki, ocsp_response_for

EDXML_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><edXMLEnvelope><edXMLHeader><MessageHeader>
<From><OrganId>000.00.12.H10</OrganId><OrganName>UBND thanh pho Can Tho</OrganName></From>
<To><OrganId>000.00.00.G22</OrganId><OrganName>Van phong Chinh phu</OrganName></To>
<DocumentId>000.00.12.H10,2026/11/26,123/UBND-VP</DocumentId>
<Code><CodeNumber>123</CodeNumber><CodeNotation>UBND-VP</CodeNotation></Code>
<Subject>Ve viec trien khai LGSP</Subject>{filler}
</MessageHeader><TraceHeaderList><TraceHeader><OrganId>000.00.12.H10</OrganId>
<Timestamp>2026/11/26 09:00:00</Timestamp></TraceHeader></TraceHeaderList></edXMLHeader>
<edXMLBody><edXMLManifest version="1.0"><Reference><ContentId>cid:att-1</ContentId>
<AttachmentName>quyet-dinh.pdf</AttachmentName></Reference></edXMLManifest></edXMLBody></edXMLEnvelope>
<AttachmentEncoded><Attachment><ContentId>att-1</ContentId><AttachmentName>quyet-dinh.pdf</AttachmentName>
<ContentType>application/pdf</ContentType><ContentTransferEncoded>JVBERi0xLjQK</ContentTransferEncoded></Attachment>
</AttachmentEncoded></edXML>"""


def edxml_document(filler_bytes: int = 0) -> bytes:
    """An unsigned edXML edoc packet (QCVN 102:2016 skeleton); ``filler_bytes`` pads the Content element."""
    filler = f"<Content>{'Noi dung van ban. ' * (filler_bytes // 18)}</Content>" if filler_bytes else ""
    return EDXML_TEMPLATE.format(filler=filler).encode()


def sign_xml(data: bytes, signer: Identity, *, legacy_sha1: bool = False, xades: bool = False,
             reference_uri: str | None = None, default_namespace: bool = False, tsa: Identity | None = None,
             timestamp_at: dt.datetime | None = None, exclusive_c14n: bool = False) -> bytes:
    """Enveloped XML-DSig over the whole document (or ``reference_uri``), placed in edXMLHeader if present.

    ``xades`` makes it XAdES-BES; with a ``tsa`` too, XAdES-T (a SignatureTimeStamp over SignatureValue).
    """
    from lxml import etree
    from signxml import DigestAlgorithm, SignatureMethod, XMLSigner
    from signxml.xades import XAdESSigner

    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    edxml_ns = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
    header = root.find(f".//{{{edxml_ns}}}edXMLHeader")
    ds_ns = "http://www.w3.org/2000/09/xmldsig#"
    if not xades:  # signxml's XAdES signer appends its own Signature to the root
        etree.SubElement(header if header is not None else root, f"{{{ds_ns}}}Signature", Id="placeholder",
                         nsmap={None: ds_ns} if default_namespace else {"ds": ds_ns})
    is_ec = isinstance(signer.key, ec.EllipticCurvePrivateKey)
    method = SignatureMethod.RSA_SHA1 if legacy_sha1 else (
        SignatureMethod.ECDSA_SHA256 if is_ec else SignatureMethod.RSA_SHA256)
    digest = DigestAlgorithm.SHA1 if legacy_sha1 else DigestAlgorithm.SHA256
    from .c14n import CorrectInclusiveC14N

    class _Signer(CorrectInclusiveC14N, XAdESSigner if xades else XMLSigner):  # type: ignore[misc]
        def check_deprecated_methods(self) -> None:
            """Legacy edXML senders still sign with rsa-sha1: fixtures must be able to do so too."""

    # Canonicalisation as in PROTOCOLS §1.4: C14N 1.0 (legacy), or exclusive C14N when asked.
    c14n = "http://www.w3.org/2001/10/xml-exc-c14n#" if exclusive_c14n else "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    xml_signer = _Signer(signature_algorithm=method, digest_algorithm=digest, c14n_algorithm=c14n)
    if default_namespace:
        xml_signer.namespaces = {None: ds_ns}
    certs = [c.public_bytes(serialization.Encoding.PEM).decode() for c in signer.chain]
    kwargs: dict[str, Any] = {"key": signer.key_pem, "cert": certs}
    if reference_uri:
        kwargs["reference_uri"] = reference_uri
    signed = etree.tostring(xml_signer.sign(root, **kwargs), xml_declaration=True, encoding="UTF-8")
    if xades and tsa is not None:
        signed = add_signature_timestamp(signed, tsa, timestamp_at)
    return signed


def add_signature_timestamp(signed: bytes, tsa: Identity, at: dt.datetime | None = None) -> bytes:
    """Turn XAdES-BES into XAdES-T: an RFC 3161 token over the inclusive-C14N SignatureValue element."""
    import asyncio
    import base64
    import hashlib

    from lxml import etree
    from pyhanko.sign.timestamps import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    ns = {"ds": "http://www.w3.org/2000/09/xmldsig#", "xades": "http://uri.etsi.org/01903/v1.3.2#"}
    root = etree.fromstring(signed, etree.XMLParser(resolve_entities=False, no_network=True))
    value = root.find(".//ds:Signature/ds:SignatureValue", ns)
    qualifying = root.find(".//ds:Signature/ds:Object/xades:QualifyingProperties", ns)
    assert value is not None and qualifying is not None, "not a XAdES signature"
    digest = hashlib.sha256(etree.tostring(value, method="c14n", exclusive=False, with_comments=False)).digest()
    stamper = DummyTimeStamper(
        tsa_cert=tsa.asn1_cert, tsa_key=tsa.asn1_key, fixed_dt=at,
        certs_to_embed=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in tsa.chain[1:]]))
    token = asyncio.run(stamper.async_timestamp(digest, "sha256"))
    x = "{" + ns["xades"] + "}"
    unsigned = etree.SubElement(qualifying, x + "UnsignedProperties")
    stamp = etree.SubElement(etree.SubElement(unsigned, x + "UnsignedSignatureProperties"), x + "SignatureTimeStamp")
    etree.SubElement(stamp, "{" + ns["ds"] + "}CanonicalizationMethod",
                     Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315")
    etree.SubElement(stamp, x + "EncapsulatedTimeStamp").text = base64.b64encode(token.dump()).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def add_revocation_values(signed: bytes, pki: TestPki, signer: Identity, *, crls: list[bytes] | None = None,
                          ocsps: list[bytes] | None = None) -> bytes:
    """XAdES-BES → XAdES-X-L style: ``CertificateValues`` and ``RevocationValues`` in the unsigned properties.

    Default evidence: an OCSP response for the signer and the CRLs of the intermediate and root CAs, which is
    everything a verifier needs offline.
    """
    import base64

    from lxml import etree

    ns = {"ds": "http://www.w3.org/2000/09/xmldsig#", "xades": "http://uri.etsi.org/01903/v1.3.2#"}
    x = "{" + ns["xades"] + "}"
    root = etree.fromstring(signed, etree.XMLParser(resolve_entities=False, no_network=True))
    qualifying = root.find(".//ds:Signature/ds:Object/xades:QualifyingProperties", ns)
    assert qualifying is not None, "not a XAdES signature"
    unsigned = qualifying.find("xades:UnsignedProperties", ns)
    if unsigned is None:
        unsigned = etree.SubElement(qualifying, x + "UnsignedProperties")
    props = unsigned.find("xades:UnsignedSignatureProperties", ns)
    if props is None:
        props = etree.SubElement(unsigned, x + "UnsignedSignatureProperties")
    cert_values = etree.SubElement(props, x + "CertificateValues")
    for cert in signer.issuers[:-1]:
        etree.SubElement(cert_values, x + "EncapsulatedX509Certificate").text = base64.b64encode(
            cert.public_bytes(serialization.Encoding.DER)).decode()
    values = etree.SubElement(props, x + "RevocationValues")
    crl_values = etree.SubElement(values, x + "CRLValues")
    for blob in crls if crls is not None else [pki.crl(pki.intermediate), pki.crl(pki.root)]:
        etree.SubElement(crl_values, x + "EncapsulatedCRLValue").text = base64.b64encode(blob).decode()
    ocsp_values = etree.SubElement(values, x + "OCSPValues")
    for blob in ocsps if ocsps is not None else [ocsp_response_for(pki, signer)]:
        etree.SubElement(ocsp_values, x + "EncapsulatedOCSPValue").text = base64.b64encode(blob).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def sign_detached_xml(document: bytes, uri: str, signer: Identity) -> bytes:
    """A detached XML-DSig over an external document (``Reference URI="van-ban.pdf"``), built by hand from
    XML-DSig §4.4.3 (signxml cannot sign non-XML bytes detached): SHA-256 reference digest, exclusive C14N of
    SignedInfo, RSA-SHA256, the signer's chain in KeyInfo."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives.asymmetric import padding
    from lxml import etree

    assert isinstance(signer.key, rsa.RSAPrivateKey)
    ds = "http://www.w3.org/2000/09/xmldsig#"
    d = "{" + ds + "}"
    signature = etree.Element(d + "Signature", nsmap={"ds": ds})
    info = etree.SubElement(signature, d + "SignedInfo")
    etree.SubElement(info, d + "CanonicalizationMethod", Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
    etree.SubElement(info, d + "SignatureMethod", Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    reference = etree.SubElement(info, d + "Reference", URI=uri)
    etree.SubElement(reference, d + "DigestMethod", Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
    etree.SubElement(reference, d + "DigestValue").text = base64.b64encode(hashlib.sha256(document).digest()).decode()
    signed_info = etree.tostring(info, method="c14n", exclusive=True)
    value = signer.key.sign(signed_info, padding.PKCS1v15(), hashes.SHA256())
    etree.SubElement(signature, d + "SignatureValue").text = base64.b64encode(value).decode()
    data = etree.SubElement(etree.SubElement(signature, d + "KeyInfo"), d + "X509Data")
    for cert in signer.chain:
        etree.SubElement(data, d + "X509Certificate").text = base64.b64encode(
            cert.public_bytes(serialization.Encoding.DER)).decode()
    return etree.tostring(signature, xml_declaration=True, encoding="UTF-8")


def sign_references(data: bytes, signer: Identity, references: list[tuple[str, list[str], bytes]], *,
                    parent_xpath: str = "/*") -> bytes:
    """A hand-built XML-DSig whose SignedInfo holds exactly ``references`` — (URI, transform algorithms,
    the bytes the signer digested) each — appended to the element at ``parent_xpath`` and signed by
    ``signer`` (RSA, exclusive C14N of SignedInfo). For hostile-input tests: any signer can sign any
    SignedInfo, so what a verifier makes of odd transforms must not depend on the signature failing."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives.asymmetric import padding
    from lxml import etree

    ds = "http://www.w3.org/2000/09/xmldsig#"
    exc = "http://www.w3.org/2001/10/xml-exc-c14n#"
    refs = ""
    for uri, transforms, digested in references:
        inner = "".join(f'<ds:Transform Algorithm="{alg}"/>' for alg in transforms)
        digest = base64.b64encode(hashlib.sha256(digested).digest()).decode()
        refs += (f'<ds:Reference URI="{uri}">' + (f"<ds:Transforms>{inner}</ds:Transforms>" if inner else "")
                 + '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
                 f"<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference>")
    certs = "".join(f"<ds:X509Certificate>{base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()}"
                    "</ds:X509Certificate>" for c in signer.chain)
    signature = etree.fromstring(
        f'<ds:Signature xmlns:ds="{ds}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{exc}"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        f"{refs}</ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data>{certs}</ds:X509Data>"
        "</ds:KeyInfo></ds:Signature>")
    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    parent = root.xpath(parent_xpath)
    assert isinstance(parent, list) and isinstance(parent[0], etree._Element)
    parent[0].append(signature)
    signed_info = signature[0]
    key: Any = signer.key
    assert isinstance(key, rsa.RSAPrivateKey), "sign_references signs with RSA keys"
    value = key.sign(etree.tostring(signed_info, method="c14n", exclusive=True), padding.PKCS1v15(), hashes.SHA256())
    signature[1].text = base64.b64encode(value).decode()
    return etree.tostring(root)
