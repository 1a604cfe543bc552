"""What the console pages show, read with bounded queries (pages stay fast with millions of audit entries).

The home page summarises the most recent `RECENT` exchanges (an index range scan, not a time aggregate over
the whole log); the log page pages by index (keyset), so page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session

from lgsp.audit.canonical import format_time
from lgsp.audit.heads import HeadService
from lgsp.audit.merkle import root_hash
from lgsp.audit.models import AuditEntry
from lgsp.audit.query import AuditFilter, apply_filter, aware, entry_to_dict
from lgsp.delivery import operations as deliveries
from lgsp.documents.models import Document
from lgsp.runtime import Runtime
from lgsp.store.bounds import fits_int64
from registry.datasets import Dataset, DatasetSchedule

RECENT = 5000
PAGE = 50


@dataclass
class ServiceTraffic:
    service: str
    calls: int = 0
    errors: int = 0
    latencies: list[int] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


def _minute(engine: Engine, column: Any) -> Any:
    """The minute of a stored time as text, computed by the database (parsing 5,000 datetimes in Python is
    most of the page's time otherwise)."""
    if engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI")
    return func.substr(column, 1, 16)


def home(runtime: Runtime) -> dict[str, Any]:
    engine = runtime.engine
    recent = (select(AuditEntry.service, AuditEntry.status, AuditEntry.latency_us, AuditEntry.time)
              .where(AuditEntry.service.is_not(None)).order_by(AuditEntry.idx.desc()).limit(RECENT).subquery())
    minute = _minute(engine, recent.c.time).label("minute")
    with engine.connect() as conn:
        rows = conn.execute(select(recent.c.service, recent.c.status, recent.c.latency_us)).all()
        series = conn.execute(select(minute, func.count(), func.sum(case((recent.c.status >= 400, 1), else_=0)))
                              .group_by(minute).order_by(minute)).all()
    per_service: dict[str, ServiceTraffic] = {}
    for service, status, latency in rows:
        traffic = per_service.get(service)
        if traffic is None:
            traffic = per_service[service] = ServiceTraffic(service)
        traffic.calls += 1
        traffic.errors += status >= 400
        traffic.latencies.append(latency)
    times = [int(datetime.fromisoformat(f"{m[:10]}T{m[11:16]}").replace(tzinfo=UTC).timestamp()) for m, _, _ in series]
    heads = HeadService(engine, runtime.settings)
    head = heads.latest()
    head_ok: bool | None = None
    if head is not None:  # signature and root against the stored tree (the full check is `lgsp audit verify`)
        try:
            heads.keyring().verify(head)
            head_ok = root_hash(heads.tree, head.tree_size) == head.root_hash
        except Exception:
            head_ok = False
    return {
        "services": sorted(per_service.values(), key=lambda t: -t.calls),
        "chart": {"t": times, "calls": [int(n) for _, n, _ in series], "errors": [int(e or 0) for _, _, e in series]},
        "breakers": [p for p in runtime.breakers.providers() if runtime.breakers.state(p) != "closed"],
        "outbox": deliveries.counts(engine),
        "head": head, "head_ok": head_ok, "sample": len(rows),
    }


class FormErrors(dict[str, str]):
    """field -> message, shown next to the field."""


def log_filter(params: dict[str, str]) -> tuple[AuditFilter, str | None, str | None, FormErrors]:
    """Parse the search form; every mistake is a message next to its field, never an exception."""
    errors = FormErrors()
    f = AuditFilter(limit=PAGE)
    f.client = params.get("client") or None
    f.service = params.get("service") or None
    ident = (params.get("id") or "").strip() or None
    agency = (params.get("agency") or "").strip() or None
    if params.get("status"):
        try:
            f.status = int(params["status"])
            if not 100 <= f.status <= 599:
                raise ValueError
        except ValueError:
            errors["status"] = "an HTTP status, 100-599"
    for name in ("since", "until"):
        if params.get(name):
            try:
                value = datetime.fromisoformat(params[name])
                setattr(f, name, value if value.tzinfo else value.replace(tzinfo=UTC))
            except ValueError:
                errors[name] = "a date and time, e.g. 2026-12-06T08:00"
    if params.get("before"):
        try:
            f.before = int(params["before"])
            if not fits_int64(f.before):  # the driver cannot bind it: a 500 before
                raise ValueError
        except ValueError:
            errors["before"] = "an entry index"
    return f, ident, agency, errors


def search_log(engine: Engine, f: AuditFilter, ident: str | None, agency: str | None) -> list[dict[str, Any]]:
    """Newest first by time (then index), so the (client, time), (service, time) and time indexes serve
    both the filter and the order; `before` is an index, turned into a (time, index) keyset position."""
    before, f.before = f.before, None
    query = apply_filter(select(AuditEntry), f)
    if ident:
        query = query.where((AuditEntry.message_id == ident) | (AuditEntry.correlation_id == ident))
    if agency:  # the caller's or the provider's agency: ids start with the agency code
        query = query.where(AuditEntry.client.startswith(agency + "/", autoescape=True)
                            | AuditEntry.service.startswith(agency + "/", autoescape=True))
    with Session(engine) as session:
        if before is not None:
            anchor = session.execute(select(AuditEntry.time).where(AuditEntry.idx == before)).scalar()
            if anchor is None:
                query = query.where(AuditEntry.idx < before)
            else:
                # "time <= anchor" first, so the time index bounds the scan (an OR alone would not)
                query = query.where(AuditEntry.time <= anchor,
                                    (AuditEntry.time < anchor) | (AuditEntry.idx < before))
        query = query.order_by(AuditEntry.time.desc(), AuditEntry.idx.desc()).limit(PAGE)
        return [entry_to_dict(row) for row in session.scalars(query)]


def documents(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    cols = (Document.id, Document.direction, Document.kind, Document.agency, Document.sender, Document.subject,
            Document.code, Document.status_code, Document.created_at, Document.dms_status)
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).order_by(Document.created_at.desc()).limit(limit)).all()
    return [dict(row._mapping) for row in rows]


def dossier_pushes(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    from lgsp.delivery.models import DvcqgPush

    with engine.connect() as conn:
        rows = conn.execute(select(DvcqgPush).order_by(DvcqgPush.last_pushed_at.desc()).limit(limit)).all()
    return [dict(row._mapping) for row in rows]


def datasets(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(Dataset.slug, Dataset.title_vi, Dataset.owner_agency_code, Dataset.schedule,
                                   DatasetSchedule.last_attempt_at, DatasetSchedule.last_outcome,
                                   DatasetSchedule.last_audit_index)
                            .outerjoin(DatasetSchedule, DatasetSchedule.slug == Dataset.slug)
                            .order_by(Dataset.slug)).all()
        indexes = [r.last_audit_index for r in rows if r.last_audit_index is not None]
        runs: dict[int, dict[str, Any]] = {}
        if indexes:
            runs = {idx: extra or {} for idx, extra in conn.execute(
                select(AuditEntry.idx, AuditEntry.extra).where(AuditEntry.idx.in_(indexes)))}
    ckan = os.environ.get("LGSP_CKAN_URL", "").rstrip("/")
    out = []
    for row in rows:
        run = runs.get(row.last_audit_index) or {}
        problem = f"{run.get('step', '')}: {run['reason']}" if run.get("reason") else None
        out.append({**row._mapping, "rows": run.get("rows"), "problem": problem,
                    "ckan_url": f"{ckan}/dataset/{row.slug}" if ckan else None})
    return out


def entry_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.max(AuditEntry.idx))).scalar() or -1) + 1


def iso(value: datetime | None) -> str:
    return format_time(aware(value)) if value else ""
