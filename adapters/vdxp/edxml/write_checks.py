"""What the strict writer refuses before it builds anything (part of :mod:`.writer`): missing required
fields, malformed agency codes, business types without their details, attachments and manifest that
disagree. Each refusal is an :class:`EdxmlError` naming the field.
"""

from __future__ import annotations

from lgsp import agency_ids

from .errors import EdxmlError
from .formats import is_agency_code
from .models import BusinessDocType, DocumentPacket, ManifestReference


def normalise_cid(value: str) -> str:
    """``cid:<id>`` whatever the input spelling (``<id>``, ``CID:id``, ``cid:<id>``)."""
    raw = value.strip()
    if raw[:4].lower() == "cid:":
        raw = raw[4:]
    raw = raw.strip().removeprefix("<").removesuffix(">")
    return f"cid:{raw}"


def _require(condition: bool, path: str, message: str) -> None:
    if not condition:
        raise EdxmlError("invalid-model", message, path)


def _check_agency(code: str, path: str) -> None:
    _require(is_agency_code(code), path, f"{code!r} is not {agency_ids.describe()}")


def _check_document(packet: DocumentPacket) -> None:
    header = packet.header
    _check_agency(header.from_.organ_id, "MessageHeader/From/OrganId")
    _require(bool(header.to), "MessageHeader/To", "a document needs at least one recipient")
    for index, to in enumerate(header.to):
        _check_agency(to.organ_id, f"MessageHeader/To[{index}]/OrganId")
    _require(bool(header.document_id.strip()), "MessageHeader/DocumentId", "DocumentId is empty")
    _require(bool(header.code.code_number.strip()), "MessageHeader/Code/CodeNumber", "CodeNumber is empty")
    _require(bool(header.code.code_notation.strip()), "MessageHeader/Code/CodeNotation", "CodeNotation is empty")
    _require(bool(header.subject.strip()), "MessageHeader/Subject", "Subject is empty")
    for index, trace in enumerate(packet.trace.trace_headers):
        # a relay re-emits the hops it received: a timestamp-only entry has no OrganId to check
        if trace.organ_id:
            _check_agency(trace.organ_id, f"TraceHeaderList/TraceHeader[{index}]/OrganId")
        _require(bool(trace.organ_id) or trace.timestamp is not None, f"TraceHeaderList/TraceHeader[{index}]",
                 "a TraceHeader needs an OrganId or a Timestamp")
    _check_business(packet)
    _check_attachments(packet)


def _check_business(packet: DocumentPacket) -> None:
    business = packet.trace.business
    path = "TraceHeaderList/Bussiness"
    if business.doc_type != BusinessDocType.NEW and not packet.targets:
        where = {
            BusinessDocType.REVOKE: "MessageHeader/ResponseFor/DocumentId",
            BusinessDocType.REPLACE: f"{path}/ReplacementInfoList/ReplacementInfo/DocumentId",
        }.get(business.doc_type, f"{path}/DocumentId")
        raise EdxmlError(
            "invalid-model", f"a {business.doc_type.name.lower()} packet must name the target document", where
        )
    # Our own output is complete: the SDK's places for update details and replaced documents are filled.
    if business.doc_type == BusinessDocType.UPDATE:
        _require(business.document_info is not None, f"{path}/BussinessDocumentInfo", "an update needs its details")
    if business.doc_type == BusinessDocType.REPLACE:
        _require(bool(business.replacements), f"{path}/ReplacementInfoList", "a replace needs ReplacementInfo")
    if business.document_info is not None:
        for receiver in business.document_info.receivers:
            _check_agency(receiver.organ_id, f"{path}/BussinessDocumentInfo/ReceiverList/Receiver/OrganId")
    for replacement in business.replacements:
        _require(
            bool(replacement.document_id.strip()),
            f"{path}/ReplacementInfoList/ReplacementInfo/DocumentId",
            "DocumentId is empty",
        )
        for organ_id in replacement.organ_ids:
            _check_agency(organ_id, f"{path}/ReplacementInfoList/ReplacementInfo/OrganIdList/OrganId")


def _check_attachments(packet: DocumentPacket) -> None:
    seen: set[str] = set()
    for attachment in packet.attachments:
        cid = normalise_cid(attachment.content_id)
        _require(cid not in seen, "AttachmentEncoded/Attachment/ContentId", f"duplicate content id {cid}")
        seen.add(cid)
        if attachment.is_zipped:
            attachment.unzip()  # raises EdxmlError('bad-zip') for bytes that are not a zip
    if packet.manifest:
        listed = {normalise_cid(ref.content_id) for ref in packet.manifest if not ref.is_external}
        if listed != seen:
            raise EdxmlError(
                "cid-mismatch",
                f"manifest {sorted(listed)} ≠ attachments {sorted(seen)}",
                "edXMLBody/edXMLManifest",
            )


def _manifest(packet: DocumentPacket) -> list[ManifestReference]:
    if packet.manifest:
        return packet.manifest
    return [
        ManifestReference(a.content_id, a.content_type, a.description, a.attachment_name) for a in packet.attachments
    ]
