"""Strict edXML writer: models in, canonical packet bytes out (PROTOCOLS.md §1.1, §1.7).

"Strict" means the writer refuses a model that would produce an off-spec packet (missing required
fields, malformed agency codes, an update without its update details, a manifest that does not match the
attachments) and validates its own output against ``schemas/edxml`` before returning it. What we send to
other agencies must be the one form every reader understands: the root declares the edXML namespace as
the default, children follow the XSD's order, dates are ``yyyy/MM/dd`` and timestamps
``yyyy/MM/dd HH:mm:ss``.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from lgsp import agency_ids
from lgsp.safexml import UnsafeXmlError, parse_xml

from . import schema
from .errors import EdxmlError
from .formats import (
    NAMESPACE,
    XLINK_NAMESPACE,
    XMLDSIG_NAMESPACE,
    format_date,
    format_timestamp,
    is_agency_code,
)
from .models import (
    Attachment,
    BusinessDocType,
    DocumentPacket,
    ManifestReference,
    MessageHeader,
    Organization,
    StaffInfo,
    StatusPacket,
    TraceHeaderList,
)
from .status_codes import StatusCode

_NSMAP = {None: NAMESPACE}


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _el(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _q(name))
    if text is not None:
        try:
            element.text = text
        except ValueError as exc:  # control characters and the like cannot appear in XML 1.0
            raise EdxmlError("invalid-model", f"{name}: {exc}", name) from None
    return element


def _fields(parent: etree._Element, pairs: Iterable[tuple[str, str]]) -> None:
    for name, value in pairs:
        _el(parent, name, value)


def normalise_cid(value: str) -> str:
    """``cid:<id>`` whatever the input spelling (``<id>``, ``CID:id``, ``cid:<id>``)."""
    raw = value.strip()
    if raw[:4].lower() == "cid:":
        raw = raw[4:]
    raw = raw.strip().removeprefix("<").removesuffix(">")
    return f"cid:{raw}"


# --------------------------------------------------------------------------------------------- checks


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


# --------------------------------------------------------------------------------------------- builders


def _organization(parent: etree._Element, name: str, org: Organization) -> None:
    element = _el(parent, name)
    _fields(
        element,
        [
            ("OrganId", org.organ_id),
            ("OrganizationInCharge", org.organization_in_charge),
            ("OrganName", org.organ_name),
            ("OrganAdd", org.organ_add),
            ("Email", org.email),
            ("Telephone", org.telephone),
            ("Fax", org.fax),
            ("Website", org.website),
        ],
    )


def _staff(parent: etree._Element, staff: StaffInfo) -> None:
    element = _el(parent, "StaffInfo")
    _fields(
        element,
        [
            ("Department", staff.department),
            ("DepartmentId", staff.department_id),
            ("Staff", staff.staff),
            ("StaffId", staff.staff_id),
            ("Email", staff.email),
            ("Mobile", staff.mobile),
        ],
    )


def _message_header(parent: etree._Element, header: MessageHeader) -> None:
    mh = _el(parent, "MessageHeader")
    _organization(mh, "From", header.from_)
    for to in header.to:
        _organization(mh, "To", to)
    _el(mh, "DocumentId", header.document_id)
    code = _el(mh, "Code")
    _fields(code, [("CodeNumber", header.code.code_number), ("CodeNotation", header.code.code_notation)])
    info = _el(mh, "PromulgationInfo")
    _fields(
        info,
        [
            ("Place", header.promulgation_info.place),
            ("PromulgationDate", format_date(header.promulgation_info.promulgation_date)),
        ],
    )
    doc_type = _el(mh, "DocumentType")
    _fields(
        doc_type,
        [
            ("Type", str(header.document_type.type)),
            ("TypeDetail", str(header.document_type.type_detail)),
            ("TypeName", header.document_type.type_name),
        ],
    )
    _el(mh, "Subject", header.subject)
    _el(mh, "Content", header.content)
    signer = _el(mh, "SignerInfo")
    _fields(
        signer,
        [
            ("Competence", header.signer_info.competence),
            ("Position", header.signer_info.position),
            ("FullName", header.signer_info.full_name),
        ],
    )
    if header.due_date is not None:
        _el(mh, "DueDate", format_date(header.due_date))
    other = _el(mh, "OtherInfo")
    oi = header.other_info
    _fields(
        other,
        [
            ("Priority", str(oi.priority)),
            ("SphereOfPromulgation", oi.sphere_of_promulgation),
            ("TyperNotation", oi.typer_notation),
            ("PromulgationAmount", str(oi.promulgation_amount)),
            ("PageAmount", str(oi.page_amount)),
            ("Direction", "true" if oi.direction else "false"),
        ],
    )
    if oi.appendixes:
        appendixes = _el(other, "Appendixes")
        for appendix in oi.appendixes:
            _el(appendixes, "Appendix", appendix)
    for rf in header.response_for:
        element = _el(mh, "ResponseFor")
        _fields(
            element,
            [
                ("OrganId", rf.organ_id),
                ("Code", rf.code),
                ("PromulgationDate", format_date(rf.promulgation_date) if rf.promulgation_date else ""),
                ("DocumentId", rf.document_id),
            ],
        )
    _el(mh, "SteeringType", str(header.steering_type))
    places = _el(mh, "ToPlaces")
    for place in header.to_places:
        _el(places, "Place", place)
    if header.response_for_task is not None:
        _el(mh, "ResponseForTask", header.response_for_task)
    if header.application_type is not None:
        _el(mh, "ApplicationType", header.application_type)


def _trace_list(parent: etree._Element, trace: TraceHeaderList) -> None:
    element = _el(parent, "TraceHeaderList")
    for name, value in trace.attributes.items():
        try:
            element.set(name, value)
        except ValueError as exc:
            raise EdxmlError("invalid-model", f"TraceHeaderList/@{name}: {exc}", "TraceHeaderList") from None
    for th in trace.trace_headers:
        item = _el(element, "TraceHeader")
        if th.organ_id:
            _el(item, "OrganId", th.organ_id)
        if th.timestamp is not None:
            _el(item, "Timestamp", format_timestamp(th.timestamp))
    b = trace.business
    business = _el(element, "Bussiness")
    _fields(
        business,
        [
            ("BussinessDocType", str(int(b.doc_type))),
            ("BussinessDocReason", b.doc_reason),
            ("DocumentId", b.document_id),
            ("Paper", str(b.paper)),
        ],
    )
    _staff(business, b.staff_info)
    if b.document_info is not None:
        info = _el(business, "BussinessDocumentInfo")
        _fields(
            info,
            [
                ("DocumentInfo", b.document_info.document_info),
                ("DocumentReceiver", b.document_info.document_receiver),
            ],
        )
        receivers = _el(info, "ReceiverList")
        for receiver in b.document_info.receivers:
            item = _el(receivers, "Receiver")
            _fields(item, [("OrganId", receiver.organ_id), ("ReceiverType", str(receiver.receiver_type))])
    if b.replacements:
        replacements = _el(business, "ReplacementInfoList")
        for replacement in b.replacements:
            item = _el(replacements, "ReplacementInfo")
            _el(item, "DocumentId", replacement.document_id)
            organs = _el(item, "OrganIdList")
            for organ_id in replacement.organ_ids:
                _el(organs, "OrganId", organ_id)


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
