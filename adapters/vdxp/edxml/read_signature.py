"""Where the tolerant reader looks for a packet's Signature (PROTOCOLS.md §1.4).

Only placement and a summary are read here (inside or outside edXMLHeader, XML-DSig namespace or not, an
empty DigitalSignature); verifying it is the ``verify_signature`` hook's job.
"""

from __future__ import annotations

from lxml import etree

from .formats import XMLDSIG_NAMESPACE
from .models import SignatureInfo
from .read_context import _Ctx, _local


def _find_local(element: etree._Element, name: str) -> etree._Element | None:
    """The first descendant-or-self with local name ``name`` in any namespace (C-level search)."""
    for candidate in element.iter(f"{{*}}{name}"):
        return candidate
    return None


def _signature(ctx: _Ctx, root: etree._Element, header: etree._Element) -> SignatureInfo | None:
    found: etree._Element | None = None
    for child in header:
        if _local(child) == "Signature":
            found = child
            break
    if found is None:
        found = _find_local(root, "Signature")
        if found is not None:
            ctx.warn("signature-position", "edXMLHeader/Signature", "Signature found outside edXMLHeader")
    digital = _find_local(header, "DigitalSignature")
    if found is None:
        if digital is not None:
            empty = len(digital) == 0 and not (digital.text or "").strip()
            if empty:
                ctx.warn(
                    "empty-digital-signature",
                    "edXMLHeader/DigitalSignature",
                    "empty DigitalSignature element instead of an XML-DSig Signature",
                )
            return SignatureInfo(present=False, empty_digital_signature=empty)
        return None
    in_dsig = etree.QName(found).namespace == XMLDSIG_NAMESPACE
    if not in_dsig:
        ctx.warn(
            "signature-namespace",
            "edXMLHeader/Signature",
            f"Signature is not in the XML-DSig namespace {XMLDSIG_NAMESPACE}; strict verifiers will miss it",
        )
    method = _find_local(found, "SignatureMethod")
    digest = _find_local(found, "DigestMethod")
    subject = _find_local(found, "X509SubjectName")
    return SignatureInfo(
        present=True,
        in_xmldsig_namespace=in_dsig,
        signature_method=method.get("Algorithm", "") if method is not None else "",
        digest_method=digest.get("Algorithm", "") if digest is not None else "",
        x509_subject_name=(subject.text or "").strip() if subject is not None else "",
        xml=etree.tostring(found, with_tail=False),
    )
