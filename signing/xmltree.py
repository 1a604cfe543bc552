"""Hardened XML parsing for signature verification, and the edXML Signature spellings put back into the
XML-DSig form their signer canonicalised (see :mod:`signing.xmldsig`, step 1).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from lxml import etree

from .xmlbounds import DEFAULT_LIMITS, XmlDoctypeError, XmlLimitError, check_bounds, deeper_than, size_proves_bounds

DS_NS = "http://www.w3.org/2000/09/xmldsig#"

XADES_NS = "http://uri.etsi.org/01903/v1.3.2#"

EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"

DEFAULT_NAMESPACES = {"ds": DS_NS, "xades": XADES_NS, "edXML": EDXML_NS,
                      "soap": "http://schemas.xmlsoap.org/soap/envelope/",
                      "soap12": "http://www.w3.org/2003/05/soap-envelope"}

ID_ATTRIBUTES = ("Id", "ID", "id", "{http://www.w3.org/XML/1998/namespace}id")
_ID_LOCAL_NAMES = frozenset({"Id", "ID", "id"})


def element_ids(element: etree._Element) -> set[str]:
    """The element's identifiers as signxml resolves ``URI="#x"``: an ``Id``/``ID``/``id`` attribute in *any*
    namespace (WS-Security's ``wsu:Id`` on the SOAP Body, ``xml:id``). Coverage must match them the same way, or
    a signature over a ``wsu:Id`` Body verified but was never counted as covering the Body."""
    return {value for name, value in element.attrib.items() if str(name).rsplit("}", 1)[-1] in _ID_LOCAL_NAMES}


class XmlFormatError(ValueError):
    """The bytes are not acceptable XML (malformed, DTD/entities, too large)."""


_DECLARATION = re.compile(rb"<\?xml[ \t\r\n][^>]*\?>")
_ENCODING = re.compile(rb"""encoding[ \t\r\n]*=[ \t\r\n]*["']([A-Za-z0-9._-]+)["']""")
_ASCII_ENCODINGS = frozenset({b"utf-8", b"utf8", b"us-ascii", b"ascii"})


def _ascii_compatible(data: bytes) -> bool:
    """libxml2 will read ``data`` as UTF-8 or ASCII (no UTF-16/32 start, no other declared encoding), so a
    search of the raw bytes for ``<!DOCTYPE`` is a search of the document's characters."""
    head = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if not head.startswith(b"<") or head[1:2] == b"\x00":
        return False
    if not head.startswith(b"<?xml"):
        return True  # no XML declaration: UTF-8
    declaration = _DECLARATION.match(head)
    if declaration is None:
        return False
    encoding = _ENCODING.search(declaration.group())
    return encoding is None or encoding.group(1).lower() in _ASCII_ENCODINGS


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, collect_ids=False)


def parse(data: bytes, max_bytes: int) -> etree._Element:
    """Hardened parse; signing/ depends on nothing of ours, so this mirrors lgsp.safexml on purpose.

    Inputs small enough that they cannot cross the element and text bounds, in an encoding where a DTD
    shows as the bytes ``<!DOCTYPE``, and without those bytes, are parsed straight into a tree (the
    bounds' pre-scan would add a Python callback per element and text run, more than the parse itself);
    then only the depth is checked. Anything else — and any input the direct parse refuses, so the error is
    the scan's own — goes through :func:`~signing.xmlbounds.check_bounds` first, as before.
    """
    limits = DEFAULT_LIMITS.capped(max_bytes)
    if size_proves_bounds(len(data), limits) and b"<!DOCTYPE" not in data and _ascii_compatible(data):
        try:
            root = etree.fromstring(data, _parser())
        except etree.XMLSyntaxError:
            pass  # parsed again below, so a refusal reads the same whichever way it was found
        else:
            docinfo = root.getroottree().docinfo
            if not (docinfo.internalDTD is not None or docinfo.doctype
                    or deeper_than(root, len(data), limits.max_depth)):
                return root
    return _parse_bounded(data, limits.max_bytes)


def _parse_bounded(data: bytes, max_bytes: int) -> etree._Element:
    """The streaming bounds scan, then the parse."""
    try:
        check_bounds(data, DEFAULT_LIMITS.capped(max_bytes))
    except XmlLimitError as exc:
        raise XmlFormatError(str(exc)) from None
    except XmlDoctypeError:
        raise XmlFormatError("XML with a document type declaration (DTD/entities) is refused (XXE, entity bombs)") \
            from None
    except etree.XMLSyntaxError as exc:
        raise XmlFormatError(f"malformed XML: {exc}") from exc
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise XmlFormatError(f"malformed XML: {exc}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise XmlFormatError("XML with a document type declaration (DTD/entities) is refused (XXE, entity bombs)")
    # No DTD means no entity can be declared, and an undeclared reference is already a syntax error.
    return root


def _local(tag: Any) -> str:
    """Local name of an lxml tag (``{ns}name`` or ``name``); string slicing, QName objects cost more."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _rebuild_in_ds(old: etree._Element) -> etree._Element:
    """Copy a Signature subtree into the XML-DSig namespace as the *default* namespace.

    The non-conformant edXML variant lost ``xmlns="…xmldsig#"`` on serialisation; what the signer
    canonicalised was the default-namespace form, so rebuilding exactly that form restores the signed bytes.
    """
    new = etree.Element(f"{{{DS_NS}}}{_local(old.tag)}", nsmap={None: DS_NS})

    def copy_children(src: etree._Element, dst: etree._Element) -> None:
        dst.text = src.text
        for key, value in src.attrib.items():
            dst.set(key, value)
        for child in src:
            if not isinstance(child.tag, str):
                dst.append(copy.copy(child))
                continue
            ns = etree.QName(child.tag).namespace
            tag = f"{{{DS_NS}}}{_local(child.tag)}" if ns in (None, EDXML_NS) else child.tag
            sub = etree.SubElement(dst, tag)
            copy_children(child, sub)
            sub.tail = child.tail

    copy_children(old, new)
    new.tail = old.tail
    return new


def normalise_variants(root: etree._Element) -> tuple[etree._Element, list[str]]:
    """Find signatures in all edXML spellings; return the (possibly rewritten) root and notes about it."""
    notes: list[str] = []
    for element in list(root.iter("{*}Signature", "{*}DigitalSignature")):  # tag match in C, any namespace
        qname = etree.QName(element.tag)
        if qname.localname == "Signature" and qname.namespace != DS_NS and any(
            _local(c.tag) == "SignedInfo" for c in element
        ):
            parent = element.getparent()
            rebuilt = _rebuild_in_ds(element)
            if parent is None:
                root = rebuilt
            else:
                parent.replace(element, rebuilt)
            where = qname.namespace or "no namespace"
            notes.append(f"Signature element is not in the XML-DSig namespace ({where}); verified after "
                         "restoring the namespace (non-conformant edXML variant, QCVN 102:2016 §Signature)")
        elif qname.localname == "DigitalSignature" and len(element) == 0 and not (element.text or "").strip():
            notes.append("empty DigitalSignature element: this packet carries no signature "
                         "(non-conformant edXML variant)")
    return root, notes
