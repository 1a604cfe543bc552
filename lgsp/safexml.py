"""Hardened XML parsing: the only way lgsp code turns untrusted bytes into an lxml tree.

Every XML input (edXML packets, SOAP envelopes, WSDL we load, provider responses) is untrusted. The
parser here refuses DTDs and entity expansion (XXE, billion laughs), never touches the network, and
bounds the input size, so one hostile packet cannot read local files or exhaust memory.
"""

from __future__ import annotations

from lxml import etree

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class UnsafeXmlError(ValueError):
    """The input is not acceptable XML (malformed, has a DTD/entities, or is too large)."""


def hardened_parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
    """A fresh lxml parser with every dangerous feature off (parsers are not thread-safe; do not share)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=remove_blank_text,
        remove_comments=False,
        collect_ids=False,
    )


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse untrusted bytes to a root element, or raise :class:`UnsafeXmlError` saying why.

    A document type declaration is refused outright: legitimate edXML and SOAP never carry one, and
    refusing it closes XXE and entity-expansion attacks even where a parser option would be missed.
    """
    if len(data) > max_bytes:
        raise UnsafeXmlError(f"XML body of {len(data)} bytes exceeds the limit of {max_bytes} bytes")
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXmlError(f"malformed XML: {exc}") from exc
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise UnsafeXmlError("XML with a document type declaration (DTD) is not accepted")
    return root
