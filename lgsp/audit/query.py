"""Reading the audit log with filters (used by `GET /audit/entries` and `lgsp audit tail`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import Session

from lgsp.audit.canonical import format_time
from lgsp.audit.models import AuditEntry


@dataclass
class AuditFilter:
    client: str | None = None
    service: str | None = None
    user_id: str | None = None
    message_id: str | None = None
    status: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: int | None = None  # cursor: entries with a larger index
    before: int | None = None
    limit: int = 100


def apply_filter(query: Select[Any], f: AuditFilter) -> Select[Any]:
    if f.client:
        query = query.where(AuditEntry.client == f.client)
    if f.service:
        query = query.where(AuditEntry.service == f.service)
    if f.user_id:
        query = query.where(AuditEntry.user_id == f.user_id)
    if f.message_id:
        query = query.where(AuditEntry.message_id == f.message_id)
    if f.status is not None:
        query = query.where(AuditEntry.status == f.status)
    if f.since:
        query = query.where(AuditEntry.time >= f.since)
    if f.until:
        query = query.where(AuditEntry.time < f.until)
    if f.after is not None:
        query = query.where(AuditEntry.idx > f.after)
    if f.before is not None:
        query = query.where(AuditEntry.idx < f.before)
    return query


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def entry_to_dict(row: AuditEntry) -> dict[str, Any]:
    return {
        "index": row.idx, "time": format_time(aware(row.time)), "message_id": row.message_id,
        "correlation_id": row.correlation_id, "client": row.client, "service": row.service,
        "method": row.method, "path": row.path, "user_id": row.user_id, "status": row.status,
        "latency_us": row.latency_us, "request_sha256": row.request_sha256,
        "response_sha256": row.response_sha256, "problem_type": row.problem_type,
        "signature_report_sha256": row.signature_report_sha256, "extra": row.extra or {},
        "leaf_hash": bytes(row.leaf_hash).hex(), "chain_hash": bytes(row.chain_hash).hex(),
    }


def find_entries(engine: Engine, f: AuditFilter, newest_first: bool = False) -> list[dict[str, Any]]:
    order = AuditEntry.idx.desc() if newest_first else AuditEntry.idx.asc()
    query = apply_filter(select(AuditEntry), f).order_by(order).limit(max(1, min(f.limit, 10_000)))
    with Session(engine) as session:
        return [entry_to_dict(row) for row in session.scalars(query)]


def get_entry(engine: Engine, index: int) -> dict[str, Any] | None:
    with Session(engine) as session:
        row = session.get(AuditEntry, index)
        return entry_to_dict(row) if row else None
