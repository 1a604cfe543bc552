"""Tolerant edXML reader: bytes in, models plus a list of :class:`Deviation` out.

Packets from other DMS vendors differ in small ways (PROTOCOLS.md §1.1–§1.5): element order, unprefixed
children in no namespace, ``cid:`` prefixes missing on one side, a Signature outside the XML-DSig
namespace, an empty ``DigitalSignature``, ISO dates. Losing an official document over such slips would be
worse than the slip, so the reader accepts them and lists each as a deviation. It refuses, with an
:class:`EdxmlError`, only what it cannot interpret safely: bytes that are not well-formed XML, anything
with a DTD (XXE, entity bombs), the wrong namespace, missing required header fields, a manifest that does
not match the attachments, undecodable attachments and unknown status codes.
"""

from __future__ import annotations

import binascii
import io
import re
import threading
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from lxml import etree

from lgsp import agency_ids
from lgsp.safexml import hardened_parser

from . import payloads, schema
from .errors import Deviation, EdxmlError
from .formats import (
    NAMESPACE,
    NULL_TEXTS,
    WRONG_NAMESPACES,
    XLINK_NAMESPACE,
    XMLDSIG_NAMESPACE,
    is_agency_code,
)
from .formats import parse_date as _parse_date
from .formats import parse_timestamp as _parse_timestamp
from .models import (
    Attachment,
    Business,
    BusinessDocType,
    BusinessDocumentInfo,
    Code,
    DocumentPacket,
    DocumentType,
    EncodedAttachment,
    ManifestReference,
    MessageHeader,
    Organization,
    OtherInfo,
    PromulgationInfo,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    SignatureInfo,
    SignerInfo,
    StaffInfo,
    StatusPacket,
    StatusResponseFor,
    TraceHeader,
    TraceHeaderList,
)
from .status_codes import StatusCode
from .writer import normalise_cid

P = TypeVar("P", DocumentPacket, StatusPacket)
#: ``(packet bytes, what the reader found) -> report``; an enveloped signature covers the whole packet.
SignatureVerifier = Callable[[bytes, SignatureInfo], object]

#: Default bound on a whole packet (``LGSP_MAX_DOCUMENT_BYTES``'s default): a 50 MB attachment is ~67 MB of
#: base64. The XML parser itself only ever sees the skeleton (payloads.py), with libxml2's normal limits.
DEFAULT_MAX_PACKET_BYTES = 100 * 1024 * 1024
_DTD_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_START_TAG_RE = re.compile(rb"<[A-Za-z_]")
_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_XMLNS_RE = re.compile(rb"""xmlns(?::[^\s=]+)?\s*=\s*["']([^"']*)["']""")
_KNOWN_NAMESPACES = frozenset({NAMESPACE.encode(), XLINK_NAMESPACE.encode()})
_DTD_MESSAGE = "packets with a DOCTYPE/ENTITY declaration are refused (XXE, entity bombs)"

@dataclass
class ReadResult(Generic[P]):
    """A parsed packet and every deviation from the canonical form that was tolerated."""

    packet: P
    deviations: list[Deviation] = field(default_factory=list)
    #: whatever the ``verify_signature`` hook returned (e.g. a ``signing`` report); None when not run
    signature_report: object | None = None

    @property
    def codes(self) -> set[str]:
        return {d.code for d in self.deviations}


class _Ctx:
    """Collects deviations (deduplicated by code and path)."""

    def __init__(self) -> None:
        self.deviations: list[Deviation] = []
        self._seen: set[tuple[str, str]] = set()
        #: base64 payloads cut out before parsing, by the marker text left in their element
        self.payloads: dict[str, payloads.Payload] = {}
        #: namespaces declared in the packet other than edXML and XLink (foreign elements are possible)
        self.foreign_namespaces = True
        #: the packet contains an xmlns="" (elements in no namespace are possible)
        self.undeclares_default = True
        self._index: dict[etree._Element, dict[str, list[etree._Element]]] = {}

    def children(self, element: etree._Element) -> dict[str, list[etree._Element]]:
        """Children of ``element`` in the edXML namespace or in none, by local name (built once per element:
        the reader asks each element for ten or so names, so one pass beats ten filtered scans)."""
        found = self._index.get(element)
        if found is None:
            found = {}
            for child in element:
                tag = child.tag
                if not isinstance(tag, str):
                    continue
                if tag.startswith(_NS_PREFIX):
                    name = tag[_NS_LENGTH:]
                elif tag[:1] != "{":
                    name = tag
                else:
                    continue
                found.setdefault(name, []).append(child)
            self._index[element] = found
        return found

    def warn(self, code: str, path: str, message: str) -> None:
        if (code, path) not in self._seen:
            self._seen.add((code, path))
            self.deviations.append(Deviation(code, path, message))


def _local(element: etree._Element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


_QUALIFIED: dict[str, str] = {}
_NS_PREFIX = f"{{{NAMESPACE}}}"
_NS_LENGTH = len(_NS_PREFIX)


def _kids(element: etree._Element, name: str) -> list[etree._Element]:
    """Children named ``name`` in the edXML namespace or (wrongly) in no namespace (filtered in C)."""
    qualified = _QUALIFIED.get(name)
    if qualified is None:
        qualified = _QUALIFIED[name] = f"{{{NAMESPACE}}}{name}"
    return list(element.iterchildren(qualified, name))


def _kid(ctx: _Ctx, element: etree._Element, name: str, path: str) -> etree._Element | None:
    found = ctx.children(element).get(name, ())
    if len(found) > 1:
        ctx.warn("duplicate-element", f"{path}/{name}", f"{len(found)} {name} elements; the first is used")
    return found[0] if found else None


def _need(ctx: _Ctx, element: etree._Element, name: str, path: str) -> etree._Element:
    found = _kid(ctx, element, name, path)
    if found is None:
        raise EdxmlError("missing-field", f"required element {name} is missing", f"{path}/{name}")
    return found


def _text(ctx: _Ctx, element: etree._Element | None, name: str, path: str, *, required: bool = False) -> str:
    value = ""
    if element is not None:  # _kid inlined: this runs ~60 times per packet
        index = ctx._index.get(element)
        found = (index if index is not None else ctx.children(element)).get(name)
        if found:
            if len(found) > 1:
                ctx.warn("duplicate-element", f"{path}/{name}", f"{len(found)} {name} elements; the first is used")
            text = found[0].text
            value = text.strip() if text else ""
    if required and not value:
        raise EdxmlError("missing-field", f"required field {name} is missing or empty", f"{path}/{name}")
    return value


def _int(
    ctx: _Ctx,
    element: etree._Element | None,
    name: str,
    path: str,
    default: int = 0,
    *,
    required: bool = False,
) -> int:
    text = _text(ctx, element, name, path, required=required)
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        if required:
            raise EdxmlError("bad-number", f"{text!r} is not an integer", f"{path}/{name}") from None
        ctx.warn("bad-number", f"{path}/{name}", f"{text!r} is not an integer; {default} assumed")
        return default


def _when(ctx: _Ctx, text: str, path: str, parse: Callable[[str], tuple[Any, bool]], what: str, pattern: str,
          required: bool) -> Any:
    """A date or timestamp: canonical, tolerated with a warning, or (if required) a hard error."""
    if not text:
        if required:
            raise EdxmlError("missing-field", f"required {what} is missing", path)
        return None
    try:
        value, canonical = parse(text)
    except ValueError as exc:
        if required:
            raise EdxmlError("bad-date", str(exc), path) from None
        ctx.warn("bad-date", path, f"{exc}; ignored")
        return None
    if not canonical:
        ctx.warn("date-format", path, f"{text!r} is not {pattern}")
    return value


def _date(ctx: _Ctx, text: str, path: str, *, required: bool = False) -> date | None:
    result: date | None = _when(ctx, text, path, _parse_date, "date", "yyyy/MM/dd", required)
    return result


def _timestamp(ctx: _Ctx, text: str, path: str, *, required: bool = False) -> datetime | None:
    result: datetime | None = _when(ctx, text, path, _parse_timestamp, "timestamp", "yyyy/MM/dd HH:mm:ss", required)
    return result


def _organ_id(ctx: _Ctx, value: str, path: str) -> str:
    """An OrganId as received; the literal ``null`` some producers write is a missing value, not a code."""
    if value.lower() in NULL_TEXTS:
        ctx.warn("missing-organ-id", path, f"OrganId {value!r} is a placeholder; read as missing")
        return ""
    if value and not is_agency_code(value):
        ctx.warn("organ-id-format", path, f"{value!r} is not an accepted agency identifier ({agency_ids.ENV})")
    return value


def _required_organ_id(ctx: _Ctx, element: etree._Element, path: str) -> str:
    value = _organ_id(ctx, _text(ctx, element, "OrganId", path, required=True), f"{path}/OrganId")
    if not value:
        raise EdxmlError("missing-field", "required field OrganId is missing (null)", f"{path}/OrganId")
    return value


# ------------------------------------------------------------------------------------------ bytes → tree


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


def _note_namespaces(ctx: _Ctx, skeleton: bytes) -> None:
    """Which namespace checks can be skipped, from the declarations in the (small) skeleton."""
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


def _check_root(root: etree._Element) -> None:
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


# ------------------------------------------------------------------------------------------ edoc


def _organization(ctx: _Ctx, element: etree._Element, path: str) -> Organization:
    return Organization(
        organ_id=_required_organ_id(ctx, element, path),
        organization_in_charge=_text(ctx, element, "OrganizationInCharge", path),
        organ_name=_text(ctx, element, "OrganName", path),
        organ_add=_text(ctx, element, "OrganAdd", path),
        email=_text(ctx, element, "Email", path),
        telephone=_text(ctx, element, "Telephone", path),
        fax=_text(ctx, element, "Fax", path),
        website=_text(ctx, element, "Website", path),
    )


def _staff(ctx: _Ctx, element: etree._Element | None, path: str) -> StaffInfo:
    if element is None:
        return StaffInfo()
    return StaffInfo(
        *(
            _text(ctx, element, name, path)
            for name in ("Department", "DepartmentId", "Staff", "StaffId", "Email", "Mobile")
        )
    )


def _bool(ctx: _Ctx, text: str, path: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered not in ("", "false", "0"):
        ctx.warn("bad-boolean", path, f"{text!r} is not a boolean; false assumed")
    return False


def _message_header(ctx: _Ctx, mh: etree._Element) -> MessageHeader:
    p = "MessageHeader"
    to_elements = _kids(mh, "To")
    if not to_elements:
        raise EdxmlError("missing-field", "a document needs at least one To", f"{p}/To")
    code = _need(ctx, mh, "Code", p)
    info = _need(ctx, mh, "PromulgationInfo", p)
    doc_type = _need(ctx, mh, "DocumentType", p)
    signer = _kid(ctx, mh, "SignerInfo", p)
    other = _kid(ctx, mh, "OtherInfo", p)
    places = _kid(ctx, mh, "ToPlaces", p)
    appendixes = _kid(ctx, other, "Appendixes", f"{p}/OtherInfo") if other is not None else None
    op = f"{p}/OtherInfo"
    return MessageHeader(
        from_=_organization(ctx, _need(ctx, mh, "From", p), f"{p}/From"),
        to=[_organization(ctx, element, f"{p}/To[{i}]") for i, element in enumerate(to_elements)],
        document_id=_text(ctx, mh, "DocumentId", p, required=True),
        code=Code(
            _text(ctx, code, "CodeNumber", f"{p}/Code", required=True),
            _text(ctx, code, "CodeNotation", f"{p}/Code", required=True),
        ),
        promulgation_info=PromulgationInfo(
            promulgation_date=_date(
                ctx,
                _text(ctx, info, "PromulgationDate", f"{p}/PromulgationInfo"),
                f"{p}/PromulgationInfo/PromulgationDate",
                required=True,
            )
            or date.min,
            place=_text(ctx, info, "Place", f"{p}/PromulgationInfo"),
        ),
        document_type=DocumentType(
            type=_int(ctx, doc_type, "Type", f"{p}/DocumentType", required=True),
            type_detail=_int(ctx, doc_type, "TypeDetail", f"{p}/DocumentType"),
            type_name=_text(ctx, doc_type, "TypeName", f"{p}/DocumentType"),
        ),
        subject=_text(ctx, mh, "Subject", p, required=True),
        content=_text(ctx, mh, "Content", p),
        signer_info=SignerInfo(
            _text(ctx, signer, "Competence", f"{p}/SignerInfo"),
            _text(ctx, signer, "Position", f"{p}/SignerInfo"),
            _text(ctx, signer, "FullName", f"{p}/SignerInfo"),
        ),
        due_date=_date(ctx, _text(ctx, mh, "DueDate", p), f"{p}/DueDate"),
        to_places=[(e.text or "").strip() for e in _kids(places, "Place")] if places is not None else [],
        other_info=OtherInfo(
            priority=_int(ctx, other, "Priority", op),
            sphere_of_promulgation=_text(ctx, other, "SphereOfPromulgation", op),
            typer_notation=_text(ctx, other, "TyperNotation", op),
            promulgation_amount=_int(ctx, other, "PromulgationAmount", op),
            page_amount=_int(ctx, other, "PageAmount", op),
            direction=_bool(ctx, _text(ctx, other, "Direction", op), f"{op}/Direction"),
            appendixes=[(e.text or "").strip() for e in _kids(appendixes, "Appendix")]
            if appendixes is not None
            else [],
        ),
        response_for=[
            _response_for(ctx, element, f"{p}/ResponseFor[{i}]") for i, element in enumerate(_kids(mh, "ResponseFor"))
        ],
        steering_type=_int(ctx, mh, "SteeringType", p),
        response_for_task=_optional_text(ctx, mh, "ResponseForTask", p),
        application_type=_optional_text(ctx, mh, "ApplicationType", p),
    )


def _optional_text(ctx: _Ctx, element: etree._Element, name: str, path: str) -> str | None:
    child = _kid(ctx, element, name, path)
    return None if child is None else (child.text or "").strip()


def _response_for(ctx: _Ctx, element: etree._Element, path: str) -> ResponseFor:
    return ResponseFor(
        organ_id=_organ_id(ctx, _text(ctx, element, "OrganId", path), f"{path}/OrganId"),
        code=_text(ctx, element, "Code", path),
        promulgation_date=_date(ctx, _text(ctx, element, "PromulgationDate", path), f"{path}/PromulgationDate"),
        document_id=_text(ctx, element, "DocumentId", path),
    )


def _business(ctx: _Ctx, trace_list: etree._Element) -> Business:
    p = "TraceHeaderList/Bussiness"
    element = _kid(ctx, trace_list, "Bussiness", "TraceHeaderList")
    if element is None:
        element = _kid(ctx, trace_list, "Business", "TraceHeaderList")
        if element is not None:
            ctx.warn("business-spelling", p, "Business (one s) read as the spec's Bussiness")
    if element is None:
        ctx.warn("missing-business", p, "no Bussiness block; a new document is assumed")
        return Business()
    raw_type = _int(ctx, element, "BussinessDocType", p, required=True)
    try:
        doc_type = BusinessDocType(raw_type)
    except ValueError:
        raise EdxmlError(
            "bad-business-type", f"BussinessDocType {raw_type} is not 0-3", f"{p}/BussinessDocType"
        ) from None
    business = Business(
        doc_type=doc_type,
        doc_reason=_text(ctx, element, "BussinessDocReason", p),
        # Optional for every type: a revocation names its target in ResponseFor, a replacement in
        # ReplacementInfo (PROTOCOLS.md §1.3, corrected); packet_targets() checks that one is present.
        document_id=_text(ctx, element, "DocumentId", p),
        paper=_int(ctx, element, "Paper", p),
        staff_info=_staff(ctx, _kid(ctx, element, "StaffInfo", p), f"{p}/StaffInfo"),
    )
    info = _kid(ctx, element, "BussinessDocumentInfo", p)
    if info is not None:
        ip = f"{p}/BussinessDocumentInfo"
        receiver_list = _kid(ctx, info, "ReceiverList", ip)
        receivers = _kids(receiver_list, "Receiver") if receiver_list is not None else []
        business.document_info = BusinessDocumentInfo(
            document_info=_text(ctx, info, "DocumentInfo", ip),
            document_receiver=_text(ctx, info, "DocumentReceiver", ip),
            receivers=[
                Receiver(
                    _text(ctx, r, "OrganId", f"{ip}/ReceiverList/Receiver", required=True),
                    _int(ctx, r, "ReceiverType", f"{ip}/ReceiverList/Receiver"),
                )
                for r in receivers
            ],
        )
    elif doc_type == BusinessDocType.UPDATE:
        ctx.warn("missing-update-info", f"{p}/BussinessDocumentInfo", "an update without BussinessDocumentInfo")
    replacement_list = _kid(ctx, element, "ReplacementInfoList", p)
    if replacement_list is not None:
        rp = f"{p}/ReplacementInfoList/ReplacementInfo"
        for item in _kids(replacement_list, "ReplacementInfo"):
            organs = _kid(ctx, item, "OrganIdList", rp)
            replaced = _text(ctx, item, "DocumentId", rp)
            if not replaced:
                ctx.warn("empty-replacement", f"{rp}/DocumentId", "ReplacementInfo without DocumentId ignored")
                continue
            business.replacements.append(
                ReplacementInfo(
                    document_id=replaced,
                    organ_ids=[o for o in (_organ_id(ctx, (e.text or "").strip(), f"{rp}/OrganIdList/OrganId")
                                           for e in _kids(organs, "OrganId")) if o] if organs is not None else [],
                )
            )
    return business


#: Where a packet of each business type is expected to name its target (for the error's field).
TARGET_FIELDS = {
    BusinessDocType.REVOKE: "MessageHeader/ResponseFor/DocumentId",
    BusinessDocType.UPDATE: "TraceHeaderList/Bussiness/DocumentId",
    BusinessDocType.REPLACE: "TraceHeaderList/Bussiness/ReplacementInfoList/ReplacementInfo/DocumentId",
}


def _check_targets(packet: DocumentPacket) -> None:
    """Only a revoke/update/replace that names no target anywhere is incomplete."""
    doc_type = packet.trace.business.doc_type
    if doc_type != BusinessDocType.NEW and not packet.targets:
        raise EdxmlError(
            "missing-target",
            f"a {doc_type.name.lower()} packet must name the document it acts on "
            "(MessageHeader/ResponseFor/DocumentId, Bussiness/ReplacementInfoList/ReplacementInfo/DocumentId "
            "or Bussiness/DocumentId)",
            TARGET_FIELDS[doc_type],
        )


def _trace(ctx: _Ctx, header: etree._Element) -> TraceHeaderList:
    element = _kid(ctx, header, "TraceHeaderList", "edXMLHeader")
    if element is None:
        ctx.warn(
            "missing-trace-list",
            "edXMLHeader/TraceHeaderList",
            "no TraceHeaderList; a new document is assumed",
        )
        return TraceHeaderList()
    traces: list[TraceHeader] = []
    for index, item in enumerate(_kids(element, "TraceHeader")):
        path = f"TraceHeaderList/TraceHeader[{index}]"
        stamp = _timestamp(ctx, _text(ctx, item, "Timestamp", path), f"{path}/Timestamp")
        organ = _organ_id(ctx, _text(ctx, item, "OrganId", path), f"{path}/OrganId")
        if stamp is None and not organ:
            ctx.warn("empty-trace", path, "TraceHeader with neither OrganId nor Timestamp ignored")
            continue
        # A relay's timestamp-only hop is kept (and re-emitted as received); it is not an error.
        traces.append(TraceHeader(organ, stamp))
    return TraceHeaderList(traces, _business(ctx, element), {str(k): str(v) for k, v in element.attrib.items()})


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


def _cid(ctx: _Ctx, raw: str, path: str) -> str:
    if not raw:
        raise EdxmlError("missing-field", "ContentId is missing", path)
    normalised = normalise_cid(raw)
    if raw != normalised:
        ctx.warn("cid-prefix", path, f"content id {raw!r} normalised to {normalised!r}")
    return normalised


def _manifest(ctx: _Ctx, envelope: etree._Element) -> list[ManifestReference] | None:
    body = _kid(ctx, envelope, "edXMLBody", "edXMLEnvelope")
    manifest = _kid(ctx, body, "edXMLManifest", "edXMLBody") if body is not None else None
    if manifest is None:
        return None
    if manifest.get("version") is None:
        ctx.warn("manifest-version", "edXMLManifest/@version", "edXMLManifest has no version attribute")
    references: list[ManifestReference] = []
    for index, item in enumerate(_kids(manifest, "Reference")):
        path = f"edXMLManifest/Reference[{index}]"
        references.append(
            ManifestReference(
                content_id=_cid(ctx, _text(ctx, item, "ContentId", path), f"{path}/ContentId"),
                content_type=_text(ctx, item, "ContentType", path) or "application/octet-stream",
                description=_text(ctx, item, "Description", path),
                attachment_name=_text(ctx, item, "AttachmentName", path),
                href=item.get(f"{{{XLINK_NAMESPACE}}}href"),
            )
        )
    return references


def _attachment_container(ctx: _Ctx, root: etree._Element, envelope: etree._Element) -> etree._Element | None:
    encoded = _kid(ctx, root, "AttachmentEncoded", "")
    if encoded is not None:
        return encoded
    for parent, path in ((envelope, "edXMLEnvelope"),):
        for candidate in parent.iter():
            if _local(candidate) == "AttachmentEncoded":
                ctx.warn(
                    "attachment-position",
                    f"{path}/AttachmentEncoded",
                    "AttachmentEncoded found inside the envelope instead of beside it",
                )
                return candidate
    return None


def _decode(text: str, path: str) -> bytes:
    """Strict base64 (the canonical form has no line breaks; wrapped base64 is accepted too)."""
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        pass
    try:
        return binascii.a2b_base64("".join(text.split()), strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise EdxmlError("bad-base64", f"ContentTransferEncoded is not base64: {exc}", path) from None


def _attachments(ctx: _Ctx, container: etree._Element | None) -> list[Attachment]:
    if container is None:
        return []
    attachments: list[Attachment] = []
    for index, item in enumerate(_kids(container, "Attachment")):
        path = f"AttachmentEncoded/Attachment[{index}]"
        encoded = _kid(ctx, item, "ContentTransferEncoded", path)
        content_id = _cid(ctx, _text(ctx, item, "ContentId", path), f"{path}/ContentId")
        name = _text(ctx, item, "AttachmentName", path)
        content_type = _text(ctx, item, "ContentType", path) or "application/octet-stream"
        description = _text(ctx, item, "Description", path)
        payload = ctx.payloads.get(encoded.text or "") if encoded is not None else None
        attachment: Attachment
        if payload is not None:
            problem = payload.problem()
            if problem:
                raise EdxmlError("bad-base64", f"ContentTransferEncoded is not base64: {problem}",
                                 f"{path}/ContentTransferEncoded")
            attachment = EncodedAttachment(content_id, name, payload, content_type, description)
        else:
            attachment = Attachment(
                content_id, name,
                _decode(encoded.text or "" if encoded is not None else "", f"{path}/ContentTransferEncoded"),
                content_type, description)
        if encoded is not None:
            # Checked above, so the XSD would only repeat that work (slowly); the tree is private to this read.
            encoded.text = ""
        if attachment.is_zipped:
            _check_zip(attachment, path)
        attachments.append(attachment)
    return attachments


def _check_zip(attachment: Attachment, path: str) -> None:
    """Open the central directory only: cheap, and never decompresses a possible zip bomb."""
    try:
        with zipfile.ZipFile(io.BytesIO(attachment.content)) as archive:
            archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise EdxmlError(
            "bad-zip",
            f"attachment {attachment.content_id} is declared {attachment.content_type} but is not a zip: {exc}",
            path,
        ) from None


def _cross_check(ctx: _Ctx, manifest: list[ManifestReference] | None, attachments: list[Attachment]) -> None:
    cids = [a.content_id for a in attachments]
    duplicates = sorted({c for c in cids if cids.count(c) > 1})
    if duplicates:
        raise EdxmlError("duplicate-cid", f"attachments share content ids {duplicates}", "AttachmentEncoded")
    if manifest is None:
        if attachments:
            ctx.warn("missing-manifest", "edXMLBody/edXMLManifest", "attachments without a manifest")
        return
    for index, ref in enumerate(manifest):
        path = f"edXMLManifest/Reference[{index}]"
        if ref.is_external:
            ctx.warn("external-reference", path, f"reference to {ref.href!r} kept; lgsp never fetches it")
        elif ref.href and normalise_cid(ref.href) != ref.content_id:
            raise EdxmlError(
                "cid-mismatch",
                f"xlink:href {ref.href!r} and ContentId {ref.content_id!r} name different attachments",
                f"{path}/@xlink:href",
            )
    listed = {ref.content_id for ref in manifest if not ref.is_external}
    present = set(cids)
    if listed != present:
        raise EdxmlError(
            "cid-mismatch",
            f"manifest lists {sorted(listed - present) or 'nothing'} without attachment; attachments "
            f"{sorted(present - listed) or 'none'} are not in the manifest",
            "edXMLBody/edXMLManifest",
        )


def _not_canonical(ctx: _Ctx, root: etree._Element, kind: schema.PacketKind) -> None:
    errors = schema.schema_errors(root, kind)
    if errors:
        ctx.warn("schema", "/", f"not valid against lgsp's edXML XSD ({len(errors)} errors): {errors[0]}")


def read_document(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_PACKET_BYTES,
    schema_check: bool = True,
    verify_signature: SignatureVerifier | None = None,
) -> ReadResult[DocumentPacket]:
    """Parse an edoc packet. With ``schema_check`` a packet the XSD rejects gets a ``schema`` deviation.

    ``verify_signature`` is the pluggable signature check (``signing/`` provides one): it is called with
    the packet bytes and the :class:`SignatureInfo` when the packet carries a Signature, and its return
    value is kept as ``signature_report``. Keeping it a plain callable lets this library and the signing
    package land in either order.
    """
    result = _document_from(*_packet_parts(data, max_bytes), schema_check)
    signature = result.packet.signature
    if verify_signature is not None and signature is not None and signature.present:
        result.signature_report = verify_signature(data, signature)
    return result


def _document_from(
    root: etree._Element, ctx: _Ctx, header: etree._Element, mh: etree._Element, schema_check: bool
) -> ReadResult[DocumentPacket]:
    if _kid(ctx, mh, "StatusCode", "MessageHeader") is not None:
        raise EdxmlError("wrong-kind", "this is a status packet, not a document", "MessageHeader/StatusCode")
    envelope = _need(ctx, root, "edXMLEnvelope", "")
    message_header = _message_header(ctx, mh)
    trace = _trace(ctx, header)
    signature = _signature(ctx, root, header)
    manifest = _manifest(ctx, envelope)
    attachments = _attachments(ctx, _attachment_container(ctx, root, envelope))
    _cross_check(ctx, manifest, attachments)
    if schema_check:
        _not_canonical(ctx, root, "edoc")
    packet = DocumentPacket(message_header, trace, attachments, manifest or [], signature)
    _check_targets(packet)
    return ReadResult(packet, ctx.deviations)


def _status_code(raw: str) -> tuple[StatusCode, bool]:
    text = raw.strip()
    if not text.isdigit():
        raise EdxmlError("bad-status-code", f"StatusCode {raw!r} is not numeric", "MessageHeader/StatusCode")
    padded = text.zfill(2)
    try:
        return StatusCode(padded), padded == text
    except ValueError:
        raise EdxmlError(
            "unknown-status-code",
            f"StatusCode {padded} is not one of {', '.join(c.value for c in StatusCode)}",
            "MessageHeader/StatusCode",
        ) from None


def read_status(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_PACKET_BYTES, schema_check: bool = True
) -> ReadResult[StatusPacket]:
    """Parse a status packet."""
    return _status_from(*_packet_parts(data, max_bytes), schema_check)


def _status_from(
    root: etree._Element, ctx: _Ctx, header: etree._Element, mh: etree._Element, schema_check: bool
) -> ReadResult[StatusPacket]:
    p = "MessageHeader"
    raw_code = _text(ctx, mh, "StatusCode", p)
    if not raw_code:
        if _kid(ctx, mh, "Subject", p) is not None:
            raise EdxmlError("wrong-kind", "this is a document, not a status packet", f"{p}/StatusCode")
        raise EdxmlError("missing-field", "required field StatusCode is missing or empty", f"{p}/StatusCode")
    code, canonical = _status_code(raw_code)
    if not canonical:
        ctx.warn("status-code-format", f"{p}/StatusCode", f"{raw_code!r} read as {code.value}")
    for extra in ("TraceHeaderList", "Signature"):
        if any(_local(child) == extra for child in header):
            ctx.warn("unexpected-element", f"edXMLHeader/{extra}", f"status packets carry no {extra}")
    rf = _need(ctx, mh, "ResponseFor", p)
    rp = f"{p}/ResponseFor"
    packet = StatusPacket(
        from_=_organization(ctx, _need(ctx, mh, "From", p), f"{p}/From"),
        response_for=StatusResponseFor(
            organ_id=_required_organ_id(ctx, rf, rp),
            code=_text(ctx, rf, "Code", rp, required=True),
            document_id=_text(ctx, rf, "DocumentId", rp, required=True),
            promulgation_date=_date(ctx, _text(ctx, rf, "PromulgationDate", rp), f"{rp}/PromulgationDate"),
        ),
        status_code=code,
        timestamp=_timestamp(ctx, _text(ctx, mh, "Timestamp", p), f"{p}/Timestamp", required=True) or datetime.min,
        description=_text(ctx, mh, "Description", p),
        staff_info=_staff(ctx, _kid(ctx, mh, "StaffInfo", p), f"{p}/StaffInfo"),
    )
    if schema_check:
        _not_canonical(ctx, root, "status")
    return ReadResult(packet, ctx.deviations)


def read_packet(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_PACKET_BYTES, schema_check: bool = True
) -> ReadResult[DocumentPacket] | ReadResult[StatusPacket]:
    """Read either kind of packet, deciding by content (a MessageHeader with StatusCode is a status)."""
    root, ctx, header, mh = _packet_parts(data, max_bytes)
    if _kid(ctx, mh, "StatusCode", "MessageHeader") is not None:
        return _status_from(root, ctx, header, mh, schema_check)
    return _document_from(root, ctx, header, mh, schema_check)


def deviation_codes(deviations: Iterable[Deviation]) -> list[str]:
    """Sorted distinct codes, handy for logs and status-packet descriptions."""
    return sorted({d.code for d in deviations})
