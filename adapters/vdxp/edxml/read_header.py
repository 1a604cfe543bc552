"""The tolerant reader's MessageHeader part: organisations, staff, document identity and ResponseFor.
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from .errors import EdxmlError
from .models import (
    Code,
    DocumentType,
    MessageHeader,
    Organization,
    OtherInfo,
    PromulgationInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
)
from .read_context import (
    _all,
    _bool,
    _Ctx,
    _date,
    _int,
    _kid,
    _need,
    _optional_text,
    _organ_id,
    _required_organ_id,
    _text,
    _texts,
)

_ORGANIZATION_FIELDS = ("OrganizationInCharge", "OrganName", "OrganAdd", "Email", "Telephone", "Fax", "Website")
_STAFF_FIELDS = ("Department", "DepartmentId", "Staff", "StaffId", "Email", "Mobile")
_SIGNER_FIELDS = ("Competence", "Position", "FullName")

# Field paths for deviations and errors, spelled once (an f-string per field and packet added up)
_FROM = "MessageHeader/From"
_CODE = "MessageHeader/Code"
_PROMULGATION_INFO = "MessageHeader/PromulgationInfo"
_PROMULGATION_DATE = "MessageHeader/PromulgationInfo/PromulgationDate"
_DOCUMENT_TYPE = "MessageHeader/DocumentType"
_SIGNER_INFO = "MessageHeader/SignerInfo"
_DUE_DATE = "MessageHeader/DueDate"
_OTHER_INFO = "MessageHeader/OtherInfo"
_DIRECTION = "MessageHeader/OtherInfo/Direction"


def _organization(ctx: _Ctx, element: etree._Element, path: str) -> Organization:
    organ_id = _required_organ_id(ctx, element, path)  # first: its deviations come before the others'
    in_charge, name, add, email, telephone, fax, website = _texts(ctx, element, _ORGANIZATION_FIELDS, path)
    return Organization(organ_id, name, in_charge, add, email, telephone, fax, website)


def _staff(ctx: _Ctx, element: etree._Element | None, path: str) -> StaffInfo:
    if element is None:
        return StaffInfo()
    return StaffInfo(*_texts(ctx, element, _STAFF_FIELDS, path))


def _message_header(ctx: _Ctx, mh: etree._Element) -> MessageHeader:
    p = "MessageHeader"
    to_elements = _all(ctx, mh, "To")
    if not to_elements:
        raise EdxmlError("missing-field", "a document needs at least one To", f"{p}/To")
    code = _need(ctx, mh, "Code", p)
    info = _need(ctx, mh, "PromulgationInfo", p)
    doc_type = _need(ctx, mh, "DocumentType", p)
    signer = _kid(ctx, mh, "SignerInfo", p)
    other = _kid(ctx, mh, "OtherInfo", p)
    places = _kid(ctx, mh, "ToPlaces", p)
    op = _OTHER_INFO
    appendixes = _kid(ctx, other, "Appendixes", op) if other is not None else None
    return MessageHeader(
        from_=_organization(ctx, _need(ctx, mh, "From", p), _FROM),
        to=[_organization(ctx, element, f"{p}/To[{i}]") for i, element in enumerate(to_elements)],
        document_id=_text(ctx, mh, "DocumentId", p, required=True),
        code=Code(
            _text(ctx, code, "CodeNumber", _CODE, required=True),
            _text(ctx, code, "CodeNotation", _CODE, required=True),
        ),
        promulgation_info=PromulgationInfo(
            promulgation_date=_date(
                ctx,
                _text(ctx, info, "PromulgationDate", _PROMULGATION_INFO),
                _PROMULGATION_DATE,
                required=True,
            )
            or date.min,
            place=_text(ctx, info, "Place", _PROMULGATION_INFO),
        ),
        document_type=DocumentType(
            type=_int(ctx, doc_type, "Type", _DOCUMENT_TYPE, required=True),
            type_detail=_int(ctx, doc_type, "TypeDetail", _DOCUMENT_TYPE),
            type_name=_text(ctx, doc_type, "TypeName", _DOCUMENT_TYPE),
        ),
        subject=_text(ctx, mh, "Subject", p, required=True),
        content=_text(ctx, mh, "Content", p),
        signer_info=SignerInfo(*_texts(ctx, signer, _SIGNER_FIELDS, _SIGNER_INFO)),
        due_date=_date(ctx, _text(ctx, mh, "DueDate", p), _DUE_DATE),
        to_places=[(e.text or "").strip() for e in _all(ctx, places, "Place")] if places is not None else [],
        other_info=OtherInfo(
            priority=_int(ctx, other, "Priority", op),
            sphere_of_promulgation=_text(ctx, other, "SphereOfPromulgation", op),
            typer_notation=_text(ctx, other, "TyperNotation", op),
            promulgation_amount=_int(ctx, other, "PromulgationAmount", op),
            page_amount=_int(ctx, other, "PageAmount", op),
            direction=_bool(ctx, _text(ctx, other, "Direction", op), _DIRECTION),
            appendixes=[(e.text or "").strip() for e in _all(ctx, appendixes, "Appendix")]
            if appendixes is not None
            else [],
        ),
        response_for=[
            _response_for(ctx, element, f"{p}/ResponseFor[{i}]")
            for i, element in enumerate(_all(ctx, mh, "ResponseFor"))
        ],
        steering_type=_int(ctx, mh, "SteeringType", p),
        response_for_task=_optional_text(ctx, mh, "ResponseForTask", p),
        application_type=_optional_text(ctx, mh, "ApplicationType", p),
    )


def _response_for(ctx: _Ctx, element: etree._Element, path: str) -> ResponseFor:
    return ResponseFor(
        organ_id=_organ_id(ctx, _text(ctx, element, "OrganId", path), f"{path}/OrganId"),
        code=_text(ctx, element, "Code", path),
        promulgation_date=_date(ctx, _text(ctx, element, "PromulgationDate", path), f"{path}/PromulgationDate"),
        document_id=_text(ctx, element, "DocumentId", path),
    )
