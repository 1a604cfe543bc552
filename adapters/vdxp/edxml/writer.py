"""Strict edXML writer: models in, canonical packet bytes out (PROTOCOLS.md §1.1, §1.7).

"Strict" means the writer refuses a model that would produce an off-spec packet (missing required
fields, malformed agency codes, an update without its update details, a manifest that does not match the
attachments) and validates its own output against ``schemas/edxml`` before returning it. What we send to
other agencies must be the one form every reader understands: the root declares the edXML namespace as
the default, children follow the XSD's order, dates are ``yyyy/MM/dd`` and timestamps
``yyyy/MM/dd HH:mm:ss``.

This module assembles and serialises the packet; the refusals are in ``write_checks``, the header's
element builders in ``write_header``.
"""

from __future__ import annotations

from lxml import etree

from lgsp.safexml import UnsafeXmlError, parse_xml

from . import schema
from .errors import EdxmlError
from .formats import NAMESPACE, XLINK_NAMESPACE, XMLDSIG_NAMESPACE, format_date, format_timestamp
from .models import Attachment, DocumentPacket, StatusPacket
from .status_codes import StatusCode
from .write_checks import _check_agency, _check_document, _manifest, _require, normalise_cid
from .write_header import _NSMAP, _el, _fields, _message_header, _organization, _q, _staff, _trace_list


def _signature(parent: etree._Element, xml: bytes) -> None:
    try:
        element = parse_xml(xml)
    except UnsafeXmlError as exc:
        raise EdxmlError("invalid-model", f"signature XML: {exc}", "edXMLHeader/Signature") from exc
    # A Signature in the edXML namespace (the producer mistake of PROTOCOLS.md §1.4) is kept exactly as
    # received: it is the sender's signature, not ours to repair, and moving it into the XML-DSig namespace
    # would break it anyway. Re-signing is the signer's job (it replaces packet.signature).
    if element.tag not in (f"{{{XMLDSIG_NAMESPACE}}}Signature", f"{{{NAMESPACE}}}Signature"):
        raise EdxmlError(
            "invalid-model", "the signature must be an XML-DSig Signature element", "edXMLHeader/Signature"
        )
    parent.append(element)


def _attachments(root: etree._Element, attachments: list[Attachment]) -> None:
    encoded = _el(root, "AttachmentEncoded")
    for attachment in attachments:
        item = _el(encoded, "Attachment")
        _fields(
            item,
            [
                ("ContentId", normalise_cid(attachment.content_id)),
                ("AttachmentName", attachment.attachment_name),
                ("Description", attachment.description),
                ("ContentType", attachment.content_type),
                ("ContentTransferEncoded", attachment.encoded().decode("ascii")),
            ],
        )


def _serialise(root: etree._Element, kind: schema.PacketKind, validate: bool) -> bytes:
    if validate:
        schema.validate(root, kind)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def build_document_tree(packet: DocumentPacket) -> etree._Element:
    """The canonical element tree of an edoc packet (checked, not yet schema-validated)."""
    _check_document(packet)
    root = etree.Element(_q("edXML"), nsmap=_NSMAP)
    envelope = _el(root, "edXMLEnvelope")
    header = _el(envelope, "edXMLHeader")
    _message_header(header, packet.header)
    _trace_list(header, packet.trace)
    if packet.signature is not None and packet.signature.xml:
        _signature(header, packet.signature.xml)
    body = _el(envelope, "edXMLBody")
    manifest = _el(body, "edXMLManifest")
    manifest.set("version", "1.0")
    for ref in _manifest(packet):
        item = _el(manifest, "Reference")
        if ref.href is not None:
            item.set(f"{{{XLINK_NAMESPACE}}}href", ref.href)
        _fields(
            item,
            [
                ("ContentId", normalise_cid(ref.content_id)),
                ("ContentType", ref.content_type),
                ("Description", ref.description),
                ("AttachmentName", ref.attachment_name),
            ],
        )
    _attachments(root, packet.attachments)
    return root


def write_document(packet: DocumentPacket, *, validate: bool = True) -> bytes:
    """Canonical UTF-8 bytes of an edoc packet; raises :class:`EdxmlError` for an invalid model."""
    return _serialise(build_document_tree(packet), "edoc", validate)


def write_status(packet: StatusPacket, *, validate: bool = True) -> bytes:
    """Canonical UTF-8 bytes of a status packet."""
    _check_agency(packet.from_.organ_id, "MessageHeader/From/OrganId")
    _check_agency(packet.response_for.organ_id, "MessageHeader/ResponseFor/OrganId")
    _require(bool(packet.response_for.code.strip()), "MessageHeader/ResponseFor/Code", "Code is empty")
    _require(
        bool(packet.response_for.document_id.strip()),
        "MessageHeader/ResponseFor/DocumentId",
        "DocumentId is empty",
    )
    _require(
        isinstance(packet.status_code, StatusCode),
        "MessageHeader/StatusCode",
        f"{packet.status_code!r} is not a known status code",
    )
    root = etree.Element(_q("edXML"), nsmap=_NSMAP)
    header = _el(_el(root, "edXMLEnvelope"), "edXMLHeader")
    mh = _el(header, "MessageHeader")
    _organization(mh, "From", packet.from_)
    rf = _el(mh, "ResponseFor")
    date_text = format_date(packet.response_for.promulgation_date) if packet.response_for.promulgation_date else ""
    _fields(
        rf,
        [
            ("OrganId", packet.response_for.organ_id),
            ("Code", packet.response_for.code),
            ("PromulgationDate", date_text),
            ("DocumentId", packet.response_for.document_id),
        ],
    )
    _staff(mh, packet.staff_info)
    _fields(
        mh,
        [
            ("StatusCode", packet.status_code.value),
            ("Description", packet.description),
            ("Timestamp", format_timestamp(packet.timestamp)),
        ],
    )
    return _serialise(root, "status", validate)


def write_packet(packet: DocumentPacket | StatusPacket, *, validate: bool = True) -> bytes:
    """Dispatch on the packet kind."""
    if isinstance(packet, StatusPacket):
        return write_status(packet, validate=validate)
    return write_document(packet, validate=validate)
