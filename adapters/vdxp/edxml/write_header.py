"""The strict writer's element builders for edXMLHeader: MessageHeader (organisations, staff, document
identity) and TraceHeaderList, children in the XSD's order (part of :mod:`.writer`).
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from .errors import EdxmlError
from .formats import NAMESPACE, format_date, format_timestamp
from .models import MessageHeader, Organization, StaffInfo, TraceHeaderList

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
