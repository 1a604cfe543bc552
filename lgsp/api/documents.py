"""The document façade for department DMSs: send edXML packets, read what arrived, report progress.

``POST /documents`` takes an edXML packet (raw XML, or JSON with base64 ``data``; ``kind=edoc|status``)
and checks everything that can be checked without the axis: the edXML hard errors, the signature (when
a hook is configured), that the sender (``From/OrganId``) is the caller's own agency and that every
recipient is in the agency directory. An accepted packet is committed with its outbox message and
audit entry in one transaction and answered ``202`` with the message id; a worker delivers it to the
axis. ``Idempotency-Key`` makes a resend return the first message id. Every refusal is an RFC 9457
problem with a stable ``type``, and is audited too.

Reading (``GET /documents``, ``GET /documents/{id}``, ``/packet``), ``PUT /documents/{id}/status`` and
sending need a ``documents`` object grant of the caller's system on the agency (registry
``object_grants``, :mod:`lgsp.access`): being a system of the agency grants nothing by itself. A
document the caller may not see is a 404, so ids do not leak. ``GET /agencies`` is the directory as
last synced from the axis.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from lgsp import access, jsontext
from lgsp.api.deps import caller_with, runtime_of
from lgsp.api.intake import Submission, idempotency_key, read_limited, refuse
from lgsp.api.models import Directory, DmsStatusIn, DmsStatusOut, Document, DocumentAccepted, DocumentPage, EdxmlJson
from lgsp.api.openapi import IDEMPOTENCY_KEY, SUBMISSION_HEADERS, json_body, problems
from lgsp.api.routing import StrictJsonRoute
from lgsp.auth.tokens import ClientIdentity
from lgsp.delivery.outbox import Enqueued, IdempotencyConflict
from lgsp.documents import store
from lgsp.documents.axis import NoDocumentAxis, load_axis
from lgsp.documents.models import DMS_STATUSES, IN, OUT
from lgsp.documents.packets import PacketFacts, PacketRejected, SignatureHook, load_hook, max_packet_bytes
from lgsp.documents.port import DocumentAxis
from lgsp.problems import Problem

router = APIRouter(route_class=StrictJsonRoute, tags=["documents"])

PATH = "/documents"
_XML_TYPES = {"application/xml", "text/xml", "application/edxml+xml", "application/octet-stream"}
_KINDS = ("edoc", "status")


def agency_of(caller: ClientIdentity) -> str:
    """The caller's agency code; a client not bound to a system cannot use the façade."""
    if not caller.system_id or "/" not in caller.system_id:
        raise Problem("forbidden", "this client is not bound to an agency system; the document façade needs one")
    return caller.system_id.split("/", 1)[0]


def signature_hook_of(request: Request) -> SignatureHook | None:
    """The pluggable signature check: ``app.state.documents_signature_hook`` or the env hook, once."""
    state = request.app.state
    if not hasattr(state, "documents_signature_hook"):
        try:
            state.documents_signature_hook = load_hook()
        except (ValueError, ImportError, AttributeError) as exc:
            raise Problem("not-configured", f"the signature hook is misconfigured: {exc}") from None
    hook: SignatureHook | None = state.documents_signature_hook
    return hook


def axis_of(request: Request) -> DocumentAxis:
    """The installed document axis (``app.state.document_axis``, found once); 503 when there is none."""
    state = request.app.state
    if not hasattr(state, "document_axis"):
        runtime = runtime_of(request)
        try:
            state.document_axis = load_axis(runtime.engine, runtime.settings)
        except NoDocumentAxis as exc:
            raise Problem("not-configured", str(exc)) from None
    axis: DocumentAxis = state.document_axis
    return axis


def _kind(value: Any, field: str) -> str | None:
    if value is None or value == "":
        return None
    if value not in _KINDS:
        raise Problem("bad-request", f"{field} must be edoc or status, not {value!r}",
                      errors=[{"field": field, "message": "must be edoc or status"}])
    return str(value)


async def _packet_from(request: Request) -> tuple[bytes, str | None]:
    """(packet bytes, declared kind) from a raw XML body or a JSON body with base64 ``data``."""
    limit = max_packet_bytes()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = _kind(request.query_params.get("kind"), "kind")
    if content_type in _XML_TYPES:
        return await read_limited(request, limit, "a packet"), declared
    if content_type == "application/json" or content_type.endswith("+json"):
        body = await read_limited(request, limit * 4 // 3 + 64 * 1024, "a packet")
        try:
            doc = jsontext.loads(body)
        except jsontext.JsonTextError as exc:
            raise Problem("bad-request", f"the body is not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), str):
            raise Problem("bad-request", 'send {"kind": "edoc"|"status", "data": "<base64 of the .edxml>"}',
                          errors=[{"field": "data", "message": "required, a base64 string"}])
        try:
            data = base64.b64decode(doc["data"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Problem("bad-request", f"data is not valid base64: {exc}",
                          errors=[{"field": "data", "message": "not base64"}]) from None
        if len(data) > limit:
            raise Problem("payload-too-large", f"a packet may be at most {limit} bytes")
        return data, _kind(doc.get("kind"), "kind") or declared
    raise Problem("unsupported-media-type",
                  f"send the packet as application/xml or as JSON with base64 data, not {content_type or 'nothing'}")


def _inspect(request: Request, axis: DocumentAxis, data: bytes, kind: str | None) -> PacketFacts:
    try:
        return axis.inspect(data, expected_kind=kind, max_bytes=max_packet_bytes(),
                            signature_hook=signature_hook_of(request))
    except PacketRejected as exc:
        if exc.code == "xml-too-large":
            raise Problem("payload-too-large", exc.message, code=exc.code, bound=exc.limit,
                          maximum=exc.maximum) from None
        problem_kind = "signature-invalid" if exc.code.startswith("signature-") else "edxml-invalid"
        extra: dict[str, Any] = {"sub_indication": exc.sub_indication} if exc.sub_indication else {}
        raise Problem(problem_kind, exc.message, code=exc.code, **extra,
                      errors=[{"field": exc.path or "/", "message": exc.message, "code": exc.code}]) from None


def _check_parties(request: Request, facts: PacketFacts, agency: str, system_id: str) -> None:
    engine = runtime_of(request).engine
    if facts.sender != agency and not access.may(engine, system_id, "documents", facts.sender):
        raise Problem("sender-mismatch", f"the packet's sender {facts.sender or '(none)'} is not your agency {agency}",
                      errors=[{"field": "From/OrganId", "message": f"must be {agency}"}])
    if not access.may(engine, system_id, "documents", facts.sender):
        raise Problem("forbidden", f"{system_id} has no grant for the documents of {facts.sender} "
                                   "(registry object_grants)")
    if not facts.recipients:
        raise Problem("unknown-recipient", "the packet names no recipient",
                      errors=[{"field": "To/OrganId", "message": "at least one recipient is required"}])
    unknown, size = store.unknown_agencies(runtime_of(request).engine, facts.recipients)
    if size == 0:
        raise Problem("not-configured", "the agency directory has not been synced from the axis yet; try later")
    if unknown:
        where = "ResponseFor/OrganId" if facts.kind == "status" else "To/OrganId"
        raise Problem("unknown-recipient", f"not in the agency directory: {', '.join(unknown)}",
                      errors=[{"field": where, "message": f"unknown agency {code}"} for code in unknown])


_XML_BODY = {"schema": {"type": "string", "description": "the .edxml packet (edXML 2.0, QĐ 28/2018)"}}
_KIND_PARAM = {"name": "kind", "in": "query", "required": False, "description": "what the packet must be",
               "schema": {"type": "string", "enum": list(_KINDS)}}
_OWN_AGENCY = (403, "forbidden")


@router.post(PATH, status_code=202, summary="Send an edXML packet (document or status) to other agencies",
             response_model=DocumentAccepted,
             openapi_extra={**json_body(EdxmlJson, extra={"application/xml": _XML_BODY}),
                            "parameters": [_KIND_PARAM, IDEMPOTENCY_KEY]},
             responses={202: {"description": "Accepted: queued for the axis with its audit entry",
                              "headers": {**SUBMISSION_HEADERS, "Location": {"schema": {"type": "string"}}}},
                        **problems(400, (403, "forbidden", "sender-mismatch"), (409, "conflict"), 413, 415,
                                   (422, "edxml-invalid", "signature-invalid", "unknown-recipient"),
                                   (503, "not-configured", "store-unavailable"))})
async def post_document(request: Request, caller: ClientIdentity = Depends(caller_with("gateway"))) -> Response:
    exchange = Submission(request, caller, "POST", PATH)
    try:
        return await _accept(request, exchange)
    except Problem as problem:
        return await refuse(request, exchange, problem)


async def _accept(request: Request, exchange: Submission) -> Response:
    agency = agency_of(exchange.caller)
    axis = axis_of(request)
    key = idempotency_key(request)
    data, declared = await _packet_from(request)
    try:
        facts = await run_in_threadpool(_inspect, request, axis, data, declared)
    except Problem:
        exchange.request_sha256 = await run_in_threadpool(lambda: hashlib.sha256(data).hexdigest())
        raise
    exchange.request_sha256 = facts.sha256  # the reader hashed the packet: once is enough for 50 MB
    exchange.extra = {"outbox": axis.send_kind, "kind": facts.kind, "document_id": facts.document_id[:200],
                      "recipients": facts.recipients[:50]}
    await run_in_threadpool(_check_parties, request, facts, agency, exchange.caller.system_id or "")
    answers: dict[bool, bytes] = {}

    def audit(message_id: str, duplicate: bool) -> dict[str, Any]:
        answers[duplicate] = json.dumps({
            "message_id": message_id, "id": message_id, "state": "accepted", "kind": facts.kind,
            "document_id": facts.document_id, "recipients": facts.recipients, "duplicate": duplicate,
            "warnings": facts.deviations, "signature": facts.signature}, ensure_ascii=False).encode()
        exchange.extra["idempotent_replay"] = duplicate
        return exchange.entry(message_id, 202, answers[duplicate])

    try:
        result: Enqueued = await run_in_threadpool(
            store.accept_outgoing, runtime_of(request).engine, data, facts, kind=axis.send_kind,
            destination=axis.destination(facts), client_id=exchange.caller.principal, idempotency_key=key,
            audit=audit)
    except IdempotencyConflict as exc:
        raise Problem("conflict", str(exc), message_id=exc.message_id) from None
    headers = {"X-LGSP-Message-Id": result.message_id, "X-LGSP-Audit-Index": str(result.audit_index),
               "Location": f"{PATH}/{result.message_id}"}
    if result.duplicate:
        headers["Idempotent-Replayed"] = "true"
    return Response(answers[result.duplicate], status_code=202, media_type="application/json", headers=headers)


@router.get(PATH, summary="Documents of the caller's agency: incoming (direction=in) or sent (out)",
            response_model=DocumentPage,
            responses=problems(_OWN_AGENCY, (404, "not-found"), (422, "validation-failed")))
def list_documents(request: Request, direction: str = Query("in", pattern="^(in|out)$"),
                   kind: str | None = Query(None, pattern="^(edoc|status)$"),
                   dms_status: str | None = Query(None, pattern="^(INITIAL|PROCESSING|DONE|FAIL)$"),
                   limit: int = Query(100, ge=1, le=1000), after: str | None = None,
                   agency: str | None = Query(None, max_length=40, description="default: the caller's own agency"),
                   caller: ClientIdentity = Depends(caller_with("gateway"))) -> dict[str, Any]:
    agency = agency or agency_of(caller)
    if after is not None and not after.isprintable():  # NUL in a query parameter: a 500 on PostgreSQL
        raise Problem("validation-failed", "after must be a document id",
                      errors=[{"field": "after", "message": "no control characters"}])
    if not agency.isprintable() or not access.may(runtime_of(request).engine, caller.system_id or "", "documents",
                                                  agency):
        raise Problem("not-found", f"no documents of agency {agency} for this system")
    items = store.list_documents(runtime_of(request).engine, agency, IN if direction == "in" else OUT, kind=kind,
                                 dms_status=dms_status, limit=limit, after=after)
    return {"agency": agency, "direction": direction, "items": items,
            "next": items[-1]["id"] if len(items) == limit else None}


def _printable(value: str) -> str:
    """``value`` as the audit log may hold it: percent-encoded (UTF-8) when it has a control character or a
    lone surrogate, which PostgreSQL (NUL) or UTF-8 cannot store."""
    return value if value.isprintable() else quote(value.encode("utf-8", "surrogatepass"), safe="")


def _own(request: Request, doc_id: str, caller: ClientIdentity) -> tuple[Any, Any, list[dict[str, Any]]]:
    agency_of(caller)
    if not doc_id.isprintable():  # no document has such an id; sent to the store, /documents/%00 was a 500
        raise Problem("not-found", f"no document {doc_id!r} for this system")
    engine = runtime_of(request).engine
    found = store.get_document(engine, doc_id)
    if found is None or not access.may(engine, caller.system_id or "", "documents", found[0].agency):
        raise Problem("not-found", f"no document {doc_id!r} for this system")
    return found


@router.get(PATH + "/{doc_id}", summary="One document: metadata, delivery state, status packets received about it",
            response_model=Document, response_model_exclude_unset=True,
            responses=problems(_OWN_AGENCY, (404, "not-found")))
def get_document(doc_id: str, request: Request,
                 caller: ClientIdentity = Depends(caller_with("gateway"))) -> dict[str, Any]:
    doc, delivery, statuses = _own(request, doc_id, caller)
    item = store.summary(doc, delivery)
    if doc.kind == "edoc":
        item["statuses"] = statuses
        item.update(store.links(runtime_of(request).engine, doc))
    return item


@router.get(PATH + "/{doc_id}/packet", summary="The packet bytes (edXML) exactly as sent or received",
            response_class=Response, responses={
                200: {"description": "the packet", "content": {"application/xml": _XML_BODY},
                      "headers": {"X-Content-SHA256": {"schema": {"type": "string"}}}},
                **problems(_OWN_AGENCY, (404, "not-found"))})
def get_packet(doc_id: str, request: Request, caller: ClientIdentity = Depends(caller_with("gateway"))) -> Response:
    doc, _, _ = _own(request, doc_id, caller)
    data = store.packet_bytes(runtime_of(request).engine, doc)
    return Response(data, media_type="application/xml",
                    headers={"X-Content-SHA256": doc.packet_sha256})


@router.put(PATH + "/{doc_id}/status", summary="The recipient DMS reports what it did with an incoming document",
            response_model=DmsStatusOut, openapi_extra=json_body(DmsStatusIn),
            responses=problems(400, _OWN_AGENCY, (404, "not-found"), (409, "conflict"), 413))
async def put_status(doc_id: str, request: Request,
                     caller: ClientIdentity = Depends(caller_with("gateway"))) -> Response:
    exchange = Submission(request, caller, "PUT", f"{PATH}/{_printable(doc_id)}/status")
    try:
        body = await read_limited(request, 64 * 1024, "a packet")
        exchange.request_sha256 = hashlib.sha256(body).hexdigest()
        try:
            status = jsontext.loads(body).get("status")
        except (jsontext.JsonTextError, AttributeError):
            status = None
        if status not in DMS_STATUSES:
            raise Problem("bad-request", f'send {{"status": one of {", ".join(DMS_STATUSES)}}}',
                          errors=[{"field": "status", "message": f"must be one of {', '.join(DMS_STATUSES)}"}])
        doc, _, _ = await run_in_threadpool(_own, request, doc_id, caller)
        if doc.direction != IN:
            raise Problem("conflict", "only incoming documents carry a DMS status; "
                                      "send a status packet (POST /documents, kind=status) to report to the sender")
        exchange.extra = {"document": doc_id, "from": doc.dms_status, "to": status}
        answer = json.dumps({"id": doc_id, "dms_status": status, "previous": doc.dms_status}).encode()
        try:
            index = await run_in_threadpool(store.set_dms_status, runtime_of(request).engine, doc, status,
                                            exchange.entry(doc_id, 200, answer))
        except store.TransitionError as exc:
            raise Problem("conflict", str(exc)) from None
        return Response(answer, media_type="application/json", headers={"X-LGSP-Audit-Index": str(index)})
    except Problem as problem:
        return await refuse(request, exchange, problem)


@router.get("/agencies", summary="The national agency directory (synced from the axis)", response_model=Directory)
def get_agencies(request: Request, caller: ClientIdentity = Depends(caller_with("gateway"))) -> dict[str, Any]:
    agencies = store.directory(runtime_of(request).engine)
    return {"count": len(agencies), "agencies": agencies}
