"""Hardened XML parsing: the only way lgsp code turns untrusted bytes into an lxml tree.

Every XML input (edXML packets, SOAP envelopes, WSDL we load, provider responses) is untrusted. The
parser here refuses DTDs and entity expansion (XXE, billion laughs), never touches the network, and
bounds the input: total size, and — by a streaming pre-scan that builds no tree
(:mod:`signing.xmlbounds`) — element count, nesting depth and the length of one text node, so one
hostile packet cannot read local files or exhaust memory. Each entry point passes its own
:class:`XmlLimits` (settings ``xml_limits_*``, see :func:`lgsp.xml_limits.entry_limits`); any other parse gets
:data:`DEFAULT_LIMITS`. This module is at the bottom of the layers: every part of lgsp, the registry and
the adapters may use it, and it imports nothing of ours but :mod:`signing.xmlbounds`.
"""

from __future__ import annotations

from lxml import etree

from signing.xmlbounds import DEFAULT_LIMITS, XmlDoctypeError, XmlLimitError, XmlLimits, check_bounds

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
__all__ = ["DEFAULT_LIMITS", "DEFAULT_MAX_BYTES", "UnsafeXmlError", "XmlLimitExceeded", "XmlLimits",
           "hardened_parser", "parse_xml", "prescan"]


class UnsafeXmlError(ValueError):
    """The input is not acceptable XML (malformed, has a DTD/entities, or is too large)."""


class XmlLimitExceeded(UnsafeXmlError):
    """The input crosses a bound (``limit``: bytes, elements, depth or text; ``maximum``): answer 413."""

    def __init__(self, limit: str, maximum: int, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.maximum = maximum


def prescan(data: bytes, limits: XmlLimits) -> None:
    """Refuse ``data`` if it crosses ``limits``, before any tree exists (:func:`signing.xmlbounds.check_bounds`)."""
    try:
        check_bounds(data, limits)
    except XmlLimitError as exc:
        raise XmlLimitExceeded(exc.limit, exc.maximum, str(exc)) from None
    except XmlDoctypeError as exc:
        raise UnsafeXmlError(str(exc)) from None
    except etree.XMLSyntaxError as exc:
        raise UnsafeXmlError(f"malformed XML: {exc}") from None


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


def parse_xml(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, limits: XmlLimits | None = None) -> etree._Element:
    """Parse untrusted bytes to a root element, or raise :class:`UnsafeXmlError` saying why.

    A document type declaration is refused outright: legitimate edXML and SOAP never carry one, and
    refusing it closes XXE and entity-expansion attacks even where a parser option would be missed.
    The structural bounds are checked first, by a pre-scan that builds nothing.
    """
    prescan(data, (limits or DEFAULT_LIMITS).capped(max_bytes))
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXmlError(f"malformed XML: {exc}") from exc
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise UnsafeXmlError("XML with a document type declaration (DTD) is not accepted")
    return root
