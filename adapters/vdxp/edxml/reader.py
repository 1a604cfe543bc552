"""Tolerant edXML reader: bytes in, models plus a list of :class:`Deviation` out.

Packets from other DMS vendors differ in small ways (PROTOCOLS.md §1.1–§1.5): element order, unprefixed
children in no namespace, ``cid:`` prefixes missing on one side, a Signature outside the XML-DSig
namespace, an empty ``DigitalSignature``, ISO dates. Losing an official document over such slips would be
worse than the slip, so the reader accepts them and lists each as a deviation. It refuses, with an
:class:`EdxmlError`, only what it cannot interpret safely: bytes that are not well-formed XML, anything
with a DTD (XXE, entity bombs), the wrong namespace, missing required header fields, a manifest that does
not match the attachments, undecodable attachments and unknown status codes.

This module assembles the packet; the parts live beside it: ``read_tree`` (bytes to a checked tree),
``read_context`` (the deviation log and field accessors), ``read_header``, ``read_trace``,
``read_signature`` (where the Signature sits) and ``read_references`` (manifest and attachments).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from lxml import etree

from . import schema
from .errors import Deviation, EdxmlError
from .models import DocumentPacket, SignatureInfo, StatusPacket, StatusResponseFor
from .read_context import _Ctx, _date, _kid, _local, _need, _required_organ_id, _text, _timestamp
from .read_header import _message_header, _organization, _staff
from .read_references import _attachment_container, _attachments, _cross_check, _manifest
from .read_signature import _signature
from .read_trace import TARGET_FIELDS as TARGET_FIELDS
from .read_trace import _check_targets, _trace
from .read_tree import _packet_parts
from .status_codes import StatusCode

P = TypeVar("P", DocumentPacket, StatusPacket)

#: ``(packet bytes, what the reader found) -> report``; an enveloped signature covers the whole packet.
SignatureVerifier = Callable[[bytes, SignatureInfo], object]

#: Default bound on a whole packet (``LGSP_MAX_DOCUMENT_BYTES``'s default): a 50 MB attachment is ~67 MB of
#: base64. The XML parser itself only ever sees the skeleton (payloads.py), with libxml2's normal limits.
DEFAULT_MAX_PACKET_BYTES = 100 * 1024 * 1024


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
