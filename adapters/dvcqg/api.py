"""``POST /dossiers/events``: a one-stop-shop system hands lgsp a dossier event for DVCQG.

Everything that can be judged without the portal is judged here (status mapping, required fields,
date formats), so a bad event is a 422 naming the field now, not a dead letter later. A good event is
stored in the outbox with ordering key = dossier code, in one transaction with its audit entry, and
answered ``202`` with the message id; the ``dvcqg.dossier`` handler pushes it to the portal later.
Only the system that first pushed a dossier, or a system with a ``dossiers`` object grant on its
agency (:mod:`lgsp.sdk.access`), may post events for it; anyone else gets the 404 an unknown dossier gets.
A resend with the same ``Idempotency-Key`` gets the first message id back; the same key with a
different body is a 409. Refused events are audited too. ``GET /dossiers/events/{message_id}`` tells
the sender where its event is (pending, delivered, dead and why).

The router is this adapter's `AdapterInfo.routers` entry; the gateway includes it like its own.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lgsp import jsontext
from lgsp.sdk import access
from lgsp.sdk.delivery import Enqueued, IdempotencyConflict, NewMessage, OutboxMessage, accept
from lgsp.sdk.http import (
    IDEMPOTENCY_KEY,
    SUBMISSION_HEADERS,
    ClientIdentity,
    Problem,
    Submission,
    caller_with,
    engine_of,
    idempotency_key,
    json_body,
    problems,
    read_limited,
    refuse,
)

from . import delivery as dvcqg
from .api_models import DossierAccepted, DossierEventIn, DossierEventState
from .errors import DossierValidationError, DvcqgError, UnknownLocalStatusError
from .sync import DossierSyncService

router = APIRouter(tags=["dossiers"])

PATH = "/dossiers/events"
MAX_EVENT_BYTES = 1024 * 1024


def checker_of(request: Request) -> DossierSyncService:
    """The offline checker, built once from ``LGSP_DVCQG_*`` (tests may set ``app.state.dvcqg_checker``)."""
    state = request.app.state
    checker: DossierSyncService | None = getattr(state, "dvcqg_checker", None)
    if checker is None:
        try:
            config = dvcqg.DvcqgConfig.from_env()
        except (ValueError, DvcqgError) as exc:
            raise Problem("not-configured", f"the DVCQG link is misconfigured: {exc}") from None
        if config is None:
            raise Problem("not-configured", "DVCQG is not configured on this gateway (LGSP_DVCQG_* settings)")
        checker = dvcqg.make_checker(config)
        state.dvcqg_checker = checker
    return checker


async def _read_body(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise Problem("unsupported-media-type", f"send the event as application/json, not {content_type or 'nothing'}")
    return await read_limited(request, MAX_EVENT_BYTES, "a dossier event")


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259); accepted, they went to the portal as invalid JSON."""
    raise jsontext.JsonTextError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse a key given twice: parsers disagree on which one counts (``{"MaHoSo": "A", "MaHoSo": "B"}``
    was queued as dossier B, where a first-wins reader of the same bytes, such as the sender's log, sees A)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise jsontext.JsonTextError(f"the key {key[:100]!r} is given twice in one object")
        out[key] = value
    return out


def _validated(checker: DossierSyncService, body: bytes) -> tuple[dict[str, Any], str, int]:
    """(stored payload, dossier code, DVCQG status code) or a 400/422 problem naming the fields."""
    try:
        # a lone surrogate is let through here so that the check names its field (adapters.dvcqg.text)
        raw = jsontext.loads(body, lone_surrogates=True, parse_constant=_no_constant,
                             object_pairs_hook=_unique_keys)
    except jsontext.JsonTextError as exc:
        raise Problem("bad-request", f"the body is not valid JSON: {exc}") from None
    try:
        event, status = checker.check(raw)
    except DossierValidationError as exc:
        errors = [{"field": p.field, "message": p.message} for p in exc.problems]
        raise Problem("validation-failed", str(exc), errors=errors) from None
    except UnknownLocalStatusError as exc:
        raise Problem("validation-failed", str(exc),
                      errors=[{"field": "local_status", "message": str(exc)}]) from None
    return event.to_payload(), event.ma_ho_so, int(status)


@router.post(PATH, status_code=202, summary="Accept a one-stop-shop dossier event for DVCQG",
             response_model=DossierAccepted,
             openapi_extra={**json_body(DossierEventIn), "parameters": [IDEMPOTENCY_KEY]},
             responses={202: {"description": "Accepted: queued for DVCQG with its audit entry",
                              "headers": SUBMISSION_HEADERS},
                        **problems(400, (409, "conflict"), 413, 415, (422, "validation-failed"),
                                   (503, "not-configured", "store-unavailable"))})
async def post_dossier_event(request: Request,
                             caller: ClientIdentity = Depends(caller_with("gateway"))) -> Response:
    exchange = Submission(request, caller, "POST", PATH)
    try:
        return await _accept(request, exchange)
    except Problem as problem:
        return await refuse(request, exchange, problem)


async def _accept(request: Request, exchange: Submission) -> Response:
    key = idempotency_key(request)
    body = await _read_body(request)
    exchange.request_sha256 = hashlib.sha256(body).hexdigest()
    payload, ma_ho_so, status = _validated(checker_of(request), body)
    exchange.extra = {"outbox": dvcqg.KIND, "ordering_key": ma_ho_so}
    engine = engine_of(request)
    if not await run_in_threadpool(access.may_post_dossier, engine, ma_ho_so, exchange.caller):
        # another agency's dossier: the same answer as for one that does not exist (ids do not leak)
        raise Problem("not-found", f"no dossier {ma_ho_so!r} for this system")
    message = NewMessage(kind=dvcqg.KIND, payload=json.dumps(payload, ensure_ascii=False).encode(),
                         ordering_key=ma_ho_so, client_id=exchange.caller.principal, idempotency_key=key,
                         request_sha256=exchange.request_sha256)
    answers: dict[bool, bytes] = {}

    def audit(message_id: str, duplicate: bool) -> dict[str, Any]:
        answers[duplicate] = json.dumps({"message_id": message_id, "state": "accepted", "dossier": ma_ho_so,
                                         "trang_thai_ho_so": status, "duplicate": duplicate}).encode()
        exchange.extra["idempotent_replay"] = duplicate
        return exchange.entry(message_id, 202, answers[duplicate])

    try:
        result: Enqueued = await run_in_threadpool(accept, engine, message, audit)
    except IdempotencyConflict as exc:
        raise Problem("conflict", str(exc), message_id=exc.message_id) from None
    headers = {"X-LGSP-Message-Id": result.message_id, "X-LGSP-Audit-Index": str(result.audit_index)}
    if result.duplicate:
        headers["Idempotent-Replayed"] = "true"
    # the exact bytes whose hash is in the audit entry
    return Response(answers[result.duplicate], status_code=202, media_type="application/json", headers=headers)


@router.get(PATH + "/{message_id}", summary="Where a dossier event is: pending, delivered or dead",
            response_model=DossierEventState, responses=problems((404, "not-found")))
def get_dossier_event(message_id: str, request: Request,
                      caller: ClientIdentity = Depends(caller_with("gateway"))) -> dict[str, Any]:
    """Lets the one-stop-shop system see whether its event reached DVCQG, and why not if it did not.

    The client that posted the event sees it, and so do the dossier's owning system and systems granted
    for its agency's dossiers; another caller gets 404, not 403, so ids do not leak.
    """
    engine = engine_of(request)
    if not _could_be_message_id(message_id):  # /dossiers/events/%00 was a 500: PostgreSQL refuses NUL in a query
        raise Problem("not-found", f"no dossier event {message_id[:100]!r} from this system")
    with Session(engine) as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id,
                                                         OutboxMessage.kind == dvcqg.KIND))
    if row is None or (row.client_id != caller.principal
                       and not access.may_read_dossier(engine, row.ordering_key or "", caller)):
        raise Problem("not-found", f"no dossier event {message_id!r} from this system")
    return {"message_id": row.message_id, "dossier": row.ordering_key, "state": row.state,
            "attempts": row.attempts, "last_error": row.last_error if row.state != "delivered" else None,
            "accepted_at": _iso(row.created_at), "delivered_at": _iso(row.delivered_at)}


def _could_be_message_id(value: str) -> bool:
    """Whether ``value`` fits ``outbox.message_id`` (String(36), lgsp's own UUIDs): anything else names no event,
    and is not sent to the store, where a NUL or a lone surrogate in the query fails the whole request."""
    return 0 < len(value) <= 36 and value.isascii() and value.isprintable()


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
