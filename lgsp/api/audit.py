"""Auditor API: query the audit log, receipts with inclusion proofs, signed heads, keys, consistency.

Access: entries (who called what) need the ``auditor`` scope. Keys, heads and consistency proofs
reveal nothing about exchanges — only sizes and hashes — and are public, as in Certificate
Transparency: anyone holding a receipt must be able to check it against the log without an account.
Signing a head on demand (``POST /audit/heads``) needs ``admin`` or ``auditor``.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BeforeValidator
from starlette.concurrency import run_in_threadpool

from lgsp.api.deps import authorization_of, caller_with, runtime_of
from lgsp.api.models import AuditBundle, AuditPage, LogKeys, Receipt, SignedTreeHead
from lgsp.api.openapi import problems
from lgsp.api.routing import StrictJsonRoute
from lgsp.audit.evidence import EvidenceError, consistency_file, receipt_for
from lgsp.audit.heads import HeadService
from lgsp.audit.query import AuditFilter, entry_to_dict, find_entries
from lgsp.auth.tokens import ClientIdentity
from lgsp.problems import Problem
from lgsp.store.bounds import INT64_MAX, INT64_MIN

router = APIRouter(route_class=StrictJsonRoute, prefix="/audit", tags=["audit"])
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: object) -> object:
    """Only what the contract says (`format: date-time`): pydantic alone would also take `0.5` as a Unix time."""
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-12-06T08:00:00+07:00")
    return value


RFC3339 = Annotated[datetime | None, BeforeValidator(_rfc3339), Query()]
auditor = [Depends(caller_with("auditor"))]


def _heads(request: Request) -> HeadService:
    return runtime_of(request).audit.heads


def admin_or_auditor(request: Request) -> ClientIdentity:
    """Either scope may ask for a head now: operators for routine, auditors before an inspection."""
    runtime = runtime_of(request)
    identity = runtime.authenticate(authorization_of(request))
    if not identity.scopes & {"admin", "auditor"}:
        raise Problem("forbidden", "this operation needs the 'admin' or 'auditor' scope")
    return identity


@router.get("/entries", summary="Audit entries, oldest first, with filters and an index cursor",
            dependencies=auditor, response_model=AuditPage, responses=problems((422, "validation-failed")))
async def list_entries(
    request: Request,
    client: str | None = None,
    service: str | None = None,
    user_id: str | None = None,
    message_id: str | None = None,
    status: int | None = Query(None, ge=0, le=999),
    since: RFC3339 = None,
    until: RFC3339 = None,
    after: int | None = Query(None, ge=INT64_MIN, le=INT64_MAX,
                              description="only entries with a larger index (cursor)"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    f = AuditFilter(client=client, service=service, user_id=user_id, message_id=message_id, status=status,
                    since=since, until=until, after=after, limit=limit)
    entries = await run_in_threadpool(find_entries, runtime_of(request).engine, f)
    next_cursor = entries[-1]["index"] if len(entries) == limit else None
    return {"entries": entries, "next_after": next_cursor}


@router.get("/entries/{index}", dependencies=auditor, response_model=Receipt,
            responses=problems(404, (422, "validation-failed")),
            summary="One audit entry as a receipt: the entry, a signed head and the inclusion proof",
            description="The body is an `lgsp-audit-bundle` receipt that `lgsp-audit-verify` checks offline. "
                        "The entry's stored fields are repeated at the top level for convenience (the "
                        "verifier reads only `entries`). The proof is against the latest signed head, or "
                        "the head of size `head`; if no head covers the entry yet, one is signed now.")
async def one_entry(request: Request, index: int = Path(ge=0, le=INT64_MAX),
                    head: int | None = Query(None, ge=0, le=INT64_MAX,
                                             description="prove against the head of this tree size"),
                    ) -> dict[str, Any]:
    runtime = runtime_of(request)
    try:
        receipt = await run_in_threadpool(receipt_for, runtime.engine, _heads(request), index, head)
    except EvidenceError as exc:
        raise Problem("not-found", str(exc)) from exc
    row = await run_in_threadpool(_stored_fields, runtime.engine, index)
    return {**row, **receipt}


def _stored_fields(engine: Any, index: int) -> dict[str, Any]:
    from sqlalchemy.orm import Session

    from lgsp.audit.models import AuditEntry

    with Session(engine) as session:
        row = session.get(AuditEntry, index)
        return entry_to_dict(row) if row is not None else {}


@router.get("/consistency", summary="Consistency proof between the signed heads of sizes `from` and `to`",
            response_model=AuditBundle, responses=problems(404, (422, "validation-failed")))
async def consistency(request: Request,
                      from_: int = Query(..., alias="from", ge=1, le=INT64_MAX),
                      to: int = Query(..., ge=1, le=INT64_MAX)) -> dict[str, Any]:
    try:
        return await run_in_threadpool(consistency_file, _heads(request), from_, to)
    except EvidenceError as exc:
        raise Problem("not-found", str(exc)) from exc


@router.get("/keys", summary="The log's public keys (current and retired): trust anchors for heads",
            response_model=LogKeys)
async def keys(request: Request) -> dict[str, Any]:
    ring = await run_in_threadpool(_heads(request).keyring)
    return ring.to_json()


_CHECKPOINT_OK = {"description": "The checkpoint note, or (Accept: application/json) the note with the JSON head and "
                                 "cosignatures",
                  "content": {"text/plain": {"schema": {"type": "string"}},
                              "application/json": {"schema": {"$ref": "#/components/schemas/Checkpoint"}}}}


@router.get("/checkpoint", openapi_extra={"x-lgsp-models": ["Checkpoint"]},
            responses={200: _CHECKPOINT_OK, **problems(404)},
            summary="The latest head as a C2SP signed-note checkpoint, with witness cosignatures",
            description="`text/plain` (default): the checkpoint note (origin, tree size, base64 root), the log's "
                        "Ed25519 note signature and every stored witness cosignature (C2SP tlog-cosignature). "
                        "`Accept: application/json`: the same note plus the JSON head, the cosignature lines "
                        "and the log's verifier key.")
async def checkpoint(request: Request) -> Any:
    from starlette.responses import PlainTextResponse

    from lgsp.audit.checkpoints import checkpoint_document

    service = _heads(request)
    head = await run_in_threadpool(service.latest)
    if head is None:
        raise Problem("not-found", "no signed head yet")
    document = await run_in_threadpool(checkpoint_document, service, head)
    if "application/json" in request.headers.get("accept", ""):
        return document
    return PlainTextResponse(document["checkpoint"])


@router.get("/heads", summary="The latest signed tree head, or the head of tree size `size`",
            response_model=SignedTreeHead, responses=problems(404, (422, "validation-failed")))
async def heads(request: Request, size: int | None = Query(None, ge=0, le=INT64_MAX)) -> dict[str, Any]:
    service = _heads(request)
    head = await run_in_threadpool(service.latest if size is None else lambda: service.by_size(size))
    if head is None:
        raise Problem("not-found", "no signed head yet" if size is None else f"no signed head of size {size}")
    return head.to_json()


@router.post("/heads", summary="Sign a head over the current log now (admin or auditor)",
             dependencies=[Depends(admin_or_auditor)], response_model=SignedTreeHead, responses=problems(409),
             openapi_extra={"security": [{"oauth2": ["admin"]}, {"oauth2": ["auditor"]}]})
async def sign_head(request: Request) -> dict[str, Any]:
    service = _heads(request)
    for _ in range(100):
        head = await run_in_threadpool(service.sign, True)
        if head is not None:
            return head.to_json()
        await asyncio.sleep(0.05)
    raise Problem("conflict", "another process is signing a head; retry")
