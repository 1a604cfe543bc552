"""Auditor API: query the audit log (auditor scope)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from lgsp.api.deps import caller_with, runtime_of
from lgsp.audit.query import AuditFilter, find_entries, get_entry
from lgsp.problems import Problem

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[Depends(caller_with("auditor"))])


@router.get("/entries", summary="Audit entries, oldest first, with filters and an index cursor")
async def list_entries(
    request: Request,
    client: str | None = None,
    service: str | None = None,
    user_id: str | None = None,
    message_id: str | None = None,
    status: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: int | None = Query(None, description="only entries with a larger index (cursor)"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    f = AuditFilter(client=client, service=service, user_id=user_id, message_id=message_id, status=status,
                    since=since, until=until, after=after, limit=limit)
    entries = await run_in_threadpool(find_entries, runtime_of(request).engine, f)
    next_cursor = entries[-1]["index"] if len(entries) == limit else None
    return {"entries": entries, "next_after": next_cursor}


@router.get("/entries/{index}", summary="One audit entry")
async def one_entry(index: int, request: Request) -> dict[str, Any]:
    entry = await run_in_threadpool(get_entry, runtime_of(request).engine, index)
    if entry is None:
        raise Problem("not-found", f"no audit entry {index}")
    return entry
