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

import re

from lxml import etree

from signing.xmlbounds import DEFAULT_LIMITS, XmlDoctypeError, XmlLimitError, XmlLimits, check_bounds

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
__all__ = ["DEFAULT_LIMITS", "DEFAULT_MAX_BYTES", "NOT_XML_CHAR", "UnsafeXmlError", "XmlLimitExceeded", "XmlLimits",
           "hardened_parser", "non_xml_char", "parse_xml", "prescan", "within_by_size"]


class UnsafeXmlError(ValueError):
    """The input is not acceptable XML (malformed, has a DTD/entities, or is too large)."""


class XmlLimitExceeded(UnsafeXmlError):
    """The input crosses a bound (``limit``: bytes, elements, depth or text; ``maximum``): answer 413."""

    def __init__(self, limit: str, maximum: int, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.maximum = maximum


#: One character the XML 1.0 ``Char`` production leaves out: the C0 controls but tab/LF/CR (NUL among them,
#: which PostgreSQL also refuses in text), U+FFFE/U+FFFF and lone surrogates. No XML document can carry one,
#: not even as a character reference, and lxml raises ValueError on it. The one definition: text that may
#: end up in XML (open-data catalogues, SOAP Faults, what the adapters pass on) is checked against it.
NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DECLARATION = re.compile(rb"<\?xml[ \t\r\n][^<>]*\?>")
_ENCODING = re.compile(rb"""encoding[ \t\r\n]*=[ \t\r\n]*["']([A-Za-z0-9._-]*)["']""")
_ASCII_SUPERSETS = {b"utf-8", b"utf8", b"us-ascii", b"ascii", b"iso-8859-1", b"latin1"}


def non_xml_char(text: str) -> str | None:
    """The first character of ``text`` no XML document can carry (:data:`NOT_XML_CHAR`), or None."""
    found = NOT_XML_CHAR.search(text)
    return None if found is None else found.group()


def within_by_size(data: bytes, limits: XmlLimits) -> bool:
    """True when the bytes alone prove ``data`` inside ``limits``, so the streaming scan has nothing to find.

    Every element begins with a ``<`` that is not followed by ``/``, so the count of those bounds both the
    element count and the nesting depth, and no text run or attribute value can hold more characters
    than the input has bytes. That holds only where a ``<`` is the byte 0x3C: input with NUL bytes
    (UTF-16/32), a BOM other than UTF-8's, or an encoding declaration outside ASCII's supersets, and any
    ``<!`` (DOCTYPE, comment, CDATA) or processing instruction, goes through the real scan.
    A small SOAP reply (tens of elements) skips a scan that costs a Python call per element.
    """
    size = len(data)
    if size > limits.max_bytes or size > limits.max_text or b"\x00" in data or b"<!" in data:
        return False
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    if data.startswith(b"<?", start):
        declaration = _DECLARATION.match(data, start)
        if declaration is None or data.count(b"<?") != 1:
            return False
        encoding = _ENCODING.search(declaration.group())
        if encoding is not None and encoding.group(1).lower() not in _ASCII_SUPERSETS:
            return False
    elif b"<?" in data or not data.startswith(b"<", start):
        return False
    starts = data.count(b"<") - data.count(b"</")
    return starts <= limits.max_elements and starts <= limits.max_depth


def prescan(data: bytes, limits: XmlLimits) -> None:
    """Refuse ``data`` if it crosses ``limits``, before any tree exists (:func:`signing.xmlbounds.check_bounds`).

    Input that :func:`within_by_size` proves inside the bounds is not scanned; a malformed one is then
    refused by the parser every caller runs next, in its own words, as it is today for a malformed input
    the scan lets through to ``except UnsafeXmlError: pass``.
    """
    if within_by_size(data, limits):
        return
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
