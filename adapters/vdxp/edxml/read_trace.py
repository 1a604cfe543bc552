"""The tolerant reader's TraceHeaderList part: hops, the Bussiness block and the target a revoke, update
or replace must name (PROTOCOLS.md §1.3).
"""

from __future__ import annotations

from lxml import etree

from .errors import EdxmlError
from .models import (
    Business,
    BusinessDocType,
    BusinessDocumentInfo,
    DocumentPacket,
    Receiver,
    ReplacementInfo,
    TraceHeader,
    TraceHeaderList,
)
from .read_context import _all, _Ctx, _int, _kid, _organ_id, _text, _timestamp
from .read_header import _staff

_DOC_TYPES = {member.value: member for member in BusinessDocType}


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
    doc_type = _DOC_TYPES.get(raw_type)  # a dict lookup: calling the IntEnum costs a microsecond
    if doc_type is None:
        raise EdxmlError(
            "bad-business-type", f"BussinessDocType {raw_type} is not 0-3", f"{p}/BussinessDocType"
        )
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
        receivers = _all(ctx, receiver_list, "Receiver") if receiver_list is not None else []
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
        for item in _all(ctx, replacement_list, "ReplacementInfo"):
            organs = _kid(ctx, item, "OrganIdList", rp)
            replaced = _text(ctx, item, "DocumentId", rp)
            if not replaced:
                ctx.warn("empty-replacement", f"{rp}/DocumentId", "ReplacementInfo without DocumentId ignored")
                continue
            business.replacements.append(
                ReplacementInfo(
                    document_id=replaced,
                    organ_ids=[o for o in (_organ_id(ctx, (e.text or "").strip(), f"{rp}/OrganIdList/OrganId")
                                           for e in _all(ctx, organs, "OrganId")) if o] if organs is not None else [],
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
    for index, item in enumerate(_all(ctx, element, "TraceHeader")):
        path = f"TraceHeaderList/TraceHeader[{index}]"
        stamp = _timestamp(ctx, _text(ctx, item, "Timestamp", path), f"{path}/Timestamp")
        organ = _organ_id(ctx, _text(ctx, item, "OrganId", path), f"{path}/OrganId")
        if stamp is None and not organ:
            ctx.warn("empty-trace", path, "TraceHeader with neither OrganId nor Timestamp ignored")
            continue
        # A relay's timestamp-only hop is kept (and re-emitted as received); it is not an error.
        traces.append(TraceHeader(organ, stamp))
    # items() without the attrib mapping proxy; lxml gives str names and values already
    return TraceHeaderList(traces, _business(ctx, element), dict(element.items()))
