"""Bytes to tree for the tolerant reader: size bound, DTD refusal, payloads cut out, root and namespace checks.

Separate from the field reading because this is the security boundary (PROTOCOLS.md §1.5): whatever
reaches the rest of the reader has been parsed by the hardened parser and has the edXML root.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

from lgsp.safexml import hardened_parser

from . import payloads
from .errors import EdxmlError
from .formats import NAMESPACE, WRONG_NAMESPACES, XLINK_NAMESPACE, XMLDSIG_NAMESPACE
from .read_context import _Ctx, _local, _need

_DTD_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)

_START_TAG_RE = re.compile(rb"<[A-Za-z_]")

_BOM = b"\xef\xbb\xbf"

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

_XMLNS_RE = re.compile(rb"""xmlns(?::[^\s=]+)?\s*=\s*["']([^"']*)["']""")

_KNOWN_NAMESPACES = frozenset({NAMESPACE.encode(), XLINK_NAMESPACE.encode()})

_DTD_MESSAGE = "packets with a DOCTYPE/ENTITY declaration are refused (XXE, entity bombs)"


def _parse(data: bytes, ctx: _Ctx, max_bytes: int) -> etree._Element:
    if not data:
        raise EdxmlError("malformed-xml", "empty packet")
    if len(data) > max_bytes:
        raise EdxmlError("too-large", f"packet of {len(data)} bytes exceeds {max_bytes} bytes")
    if data.startswith(_UTF16_BOMS):
        ctx.warn("encoding", "/", "UTF-16 packet; edXML packets are UTF-8")
        return _parse_checked(data, max_bytes)
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    stripped = body.lstrip()
    if not stripped.startswith(b"<"):
        junk = stripped[:8]
        raise EdxmlError("garbage-before-xml", f"bytes {junk!r} precede the XML declaration; not an XML packet")
    if len(stripped) != len(body):
        ctx.warn("leading-whitespace", "/", "whitespace before the XML declaration was ignored")
    # Only the prolog (before the first start tag) can hold a DOCTYPE; looking there gives the clear
    # error code early. parse_xml refuses any DTD anyway, so this is classification, not the defence.
    root_tag = _START_TAG_RE.search(stripped, 0, 65536)
    if _DTD_RE.search(stripped, 0, root_tag.start() if root_tag else 65536):
        raise EdxmlError("dtd-forbidden", _DTD_MESSAGE)
    # The base64 payloads never reach libxml2 (payloads.py): the skeleton parses with the normal limits
    # (no huge_tree however large the attachments), and attachments decode only when read.
    extracted = payloads.extract(stripped)
    if extracted.payloads:
        root = _parse_checked(extracted.skeleton, max_bytes)
        # Every marker must be the whole text of a real ContentTransferEncoded element; one found in a
        # comment or CDATA section (the byte scan cannot tell) means the skeleton is not the packet's
        # tree: parse the packet itself instead (rare, and bounded by libxml2's normal limits).
        texts = {e.text for e in root.iter("{*}ContentTransferEncoded")}
        if texts.issuperset(extracted.payloads):
            ctx.payloads = extracted.payloads
            _note_namespaces(ctx, extracted.skeleton)
            return root
        extracted = payloads.Extracted(stripped, {})
    _note_namespaces(ctx, extracted.skeleton)
    return _parse_checked(extracted.skeleton, max_bytes)


_ONLY_EDXML = b'xmlns="' + NAMESPACE.encode() + b'"'


def _note_namespaces(ctx: _Ctx, skeleton: bytes) -> None:
    """Which namespace checks can be skipped, from the declarations in the (small) skeleton."""
    if skeleton.count(b"xmlns") == 1 and _ONLY_EDXML in skeleton:
        # the usual packet: its one declaration is the edXML default namespace (what the regex would find)
        ctx.foreign_namespaces = ctx.undeclares_default = False
        return
    declared = set(_XMLNS_RE.findall(skeleton)) if len(skeleton) < 4 * 1024 * 1024 else None
    ctx.foreign_namespaces = declared is None or not declared <= _KNOWN_NAMESPACES
    ctx.undeclares_default = declared is None or b"" in declared


_parsers = threading.local()


def _parser() -> etree.XMLParser:
    """``lgsp.safexml``'s hardened parser, one per thread (creating one costs as much as parsing a small
    skeleton; lxml parsers are reusable but not thread-safe)."""
    parser: etree.XMLParser | None = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = hardened_parser()
    return parser


def _parse_checked(data: bytes, max_bytes: int) -> etree._Element:
    """What :func:`lgsp.safexml.parse_xml` does (size bound, no DTD, hardened options), with a cached parser."""
    if len(data) > max_bytes:
        raise EdxmlError("too-large", f"packet of {len(data)} bytes exceeds {max_bytes} bytes")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise EdxmlError("malformed-xml", f"malformed XML: {exc}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise EdxmlError("dtd-forbidden", _DTD_MESSAGE)
    return root


_ROOT_TAG = f"{{{NAMESPACE}}}edXML"


def _check_root(root: etree._Element) -> None:
    if root.tag == _ROOT_TAG:  # the one accepted root; QName costs a microsecond, and only errors need it
        return
    qname = etree.QName(root)
    if qname.namespace in WRONG_NAMESPACES:
        raise EdxmlError(
            "wrong-namespace",
            f"namespace {qname.namespace} is a known wrong variant; edXML uses {NAMESPACE}",
            "/",
        )
    if qname.namespace != NAMESPACE:
        raise EdxmlError(
            "wrong-namespace",
            f"root {{{qname.namespace or ''}}}{qname.localname} is not in the edXML namespace {NAMESPACE}",
            "/",
        )
    if qname.localname != "edXML":
        raise EdxmlError("wrong-root", f"root element is {qname.localname}, expected edXML", "/")


_SIGNATURE_TAGS = frozenset({f"{{{NAMESPACE}}}Signature", f"{{{NAMESPACE}}}DigitalSignature", "Signature",
                             "DigitalSignature", f"{{{XMLDSIG_NAMESPACE}}}Signature"})


def _path_of(element: etree._Element) -> str:
    names: list[str] = []
    node: etree._Element | None = element
    while node is not None and node.getparent() is not None:
        names.append(_local(node))
        node = node.getparent()
    return "/" + "/".join(reversed(names))


def _inside_signature(element: etree._Element) -> bool:
    return any(a.tag in _SIGNATURE_TAGS for a in element.iterancestors())


def _namespace_deviations(ctx: _Ctx, root: etree._Element) -> None:
    """Flag elements in no namespace, and foreign elements, outside any Signature.

    The common case (every element in the edXML namespace) costs two C-level iterations; only the
    rare offenders are looked at in Python.
    """
    # An element in no namespace needs an unprefixed name where no default namespace is in force: with
    # the root unprefixed (default namespace = edXML, checked by _check_root) that takes an xmlns="".
    unqualified_possible = root.prefix is not None or ctx.undeclares_default
    for child in root.iter("{}*") if unqualified_possible else ():  # lxml: elements in no namespace
        if child.tag in _SIGNATURE_TAGS or _inside_signature(child):
            continue
        ctx.warn("unqualified-element", _path_of(child), "element in no namespace read as edXML")
    if not ctx.foreign_namespaces:
        return
    for child in root.iter(etree.Element):
        namespace = child.tag[1 : child.tag.find("}")] if child.tag[:1] == "{" else None
        if namespace is None or namespace == NAMESPACE or child.tag in _SIGNATURE_TAGS:
            continue
        if _inside_signature(child) or any(
            etree.QName(a).namespace not in (None, NAMESPACE) for a in child.iterancestors()
        ):
            continue
        ctx.warn("foreign-element", _path_of(child), f"element in namespace {namespace} ignored")


def _packet_parts(data: bytes, max_bytes: int) -> tuple[etree._Element, _Ctx, etree._Element, etree._Element]:
    ctx = _Ctx()
    root = _parse(data, ctx, max_bytes)
    _check_root(root)
    _namespace_deviations(ctx, root)
    envelope = _need(ctx, root, "edXMLEnvelope", "")
    header = _need(ctx, envelope, "edXMLHeader", "edXMLEnvelope")
    message_header = _need(ctx, header, "MessageHeader", "edXMLHeader")
    return root, ctx, header, message_header
