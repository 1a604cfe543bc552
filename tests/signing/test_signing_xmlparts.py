"""The one-walk reading of a ds:Signature answers what the ElementPath queries it replaced answered, also for
odd structures (comments between parts, two SignedInfo, references without digest parts)."""

from __future__ import annotations

import pytest
from lxml import etree

from signing.testing import TestPki, edxml_document, sign_detached_xml, sign_xml
from signing.xmlparts import signature_parts
from signing.xmltree import DS_NS, XADES_NS

NS = {"ds": DS_NS, "xades": XADES_NS}


def by_paths(signature: etree._Element) -> tuple[object, ...]:
    method = signature.find("ds:SignedInfo/ds:SignatureMethod", namespaces=NS)
    refs = []
    for ref in signature.iterfind("ds:SignedInfo/ds:Reference", namespaces=NS):
        dm, dv = ref.find("ds:DigestMethod", namespaces=NS), ref.find("ds:DigestValue", namespaces=NS)
        refs.append((ref, ref.get("URI"), dm.get("Algorithm") if dm is not None else None,
                     dv.text if dv is not None else None))
    certs = tuple(n.text or "" for n in signature.iterfind("ds:KeyInfo/ds:X509Data/ds:X509Certificate",
                                                           namespaces=NS))
    xades = signature.find(".//xades:QualifyingProperties", namespaces=NS) is not None
    external = [uri for ref in signature.iterfind("ds:SignedInfo/ds:Reference", namespaces=NS)
                if (uri := ref.get("URI")) and not uri.startswith("#")]
    return method.get("Algorithm") if method is not None else None, refs, certs, xades, external


def by_walk(signature: etree._Element) -> tuple[object, ...]:
    parts = signature_parts(signature)
    refs = [(r.element, r.uri, r.digest_method, r.digest_value) for r in parts.references]
    return parts.signature_method, refs, parts.certificate_texts, parts.is_xades, parts.external_uris


def oddities(signed: bytes) -> list[bytes]:
    """The signed document, and variants with comments, a second SignedInfo, a bare Reference, no KeyInfo."""
    out = [signed]
    root = etree.fromstring(signed)
    sig = next(root.iter(f"{{{DS_NS}}}Signature"))
    info = sig.find("ds:SignedInfo", namespaces=NS)
    assert info is not None
    info.insert(0, etree.Comment("c"))
    sig.insert(0, etree.Comment("c"))
    out.append(etree.tostring(root))
    second = etree.SubElement(sig, f"{{{DS_NS}}}SignedInfo")
    etree.SubElement(second, f"{{{DS_NS}}}SignatureMethod", Algorithm="urn:other")
    etree.SubElement(second, f"{{{DS_NS}}}Reference")
    out.append(etree.tostring(root))
    key_info = sig.find("ds:KeyInfo", namespaces=NS)
    if key_info is not None:
        sig.remove(key_info)
    out.append(etree.tostring(root))
    return out


@pytest.mark.parametrize("kind", ["xmldsig", "xades", "detached", "reference-id"])
def test_walk_answers_what_the_paths_answer(pki: TestPki, kind: str) -> None:
    if kind == "detached":
        signed = sign_detached_xml(b"%PDF-1.4 van ban", "van-ban.pdf", pki.good)
    elif kind == "reference-id":
        signed = sign_xml(b"<doc><a xml:id='x'>1</a><b/></doc>", pki.good, reference_uri="#x")
    else:
        signed = sign_xml(edxml_document(), pki.good, xades=kind == "xades")
    for data in oddities(signed):
        root = etree.fromstring(data)
        for sig in root.iter(f"{{{DS_NS}}}Signature"):
            assert by_walk(sig) == by_paths(sig)
