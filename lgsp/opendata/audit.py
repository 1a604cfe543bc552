"""One audit entry per publishing run, in the same hash-chained log as the gateway's exchanges.

A run is an act of the city publishing data, so it is evidence like any exchange: the entry says which
dataset, which run, how many rows, the content hash of what was published (``response_sha256``) and the
outcome, and links to the gateway exchange the data was read in (``correlation_id`` = that exchange's
message id, ``extra.source_audit_index`` = its index). The entry's own index is what CKAN shows as the
dataset's ``lgsp_audit_index``, so a developer holding a downloaded file can walk back: resource hash ->
dataset provenance -> audit entry -> source exchange. ``extra`` holds no floats (audit entry format v1).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from lgsp.audit.writer import write_batch
from lgsp.problems import PROBLEM_BASE

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from registry.dataset_spec import DatasetSpec

METHOD = "PUBLISH"
#: HTTP-like status per outcome, so the audit log's status filters treat runs like exchanges.
STATUS = {"created": 201, "updated": 200, "unchanged": 200, "invalid": 422, "blocked": 422, "hand_edited": 409,
          "source_failed": 502, "publish_failed": 502}


class RunOutcome(Protocol):
    """What an entry is made from: the fields of :class:`lgsp.opendata.pipeline.RunResult` it reads
    (a protocol, so this module does not import the pipeline that imports it)."""

    run_id: str
    dataset: str
    status: str
    rows: int
    content_hash: str | None
    api_calls: int
    message: str
    report: dict[str, Any]

    @property
    def ok(self) -> bool: ...


def audit_path(slug: str) -> str:
    return f"opendata/{slug}"


def run_entry(spec: DatasetSpec, result: RunOutcome, *, client: str | None, trigger: str,
              latency_us: int, source_message_id: str | None, source_audit_index: str | None,
              forced: bool) -> dict[str, Any]:
    """The audit entry of one finished run (see the module docstring for what each field means)."""
    extra: dict[str, Any] = {
        "kind": "opendata-run",
        "run_id": result.run_id,
        "dataset": result.dataset,
        "outcome": result.status,
        "rows": int(result.rows),
        "content_hash": result.content_hash,
        "trigger": trigger,
        "ckan_calls": int(result.api_calls),
    }
    if source_audit_index and source_audit_index.isdigit():
        extra["source_audit_index"] = int(source_audit_index)
    if forced:
        extra["forced"] = True
    if not result.ok:
        extra["step"] = str(result.report.get("step", ""))
        extra["reason"] = result.message[:500]
    return {
        "time": datetime.now(UTC),
        "message_id": result.run_id,
        "correlation_id": source_message_id,
        "client": client or "lgsp-opendata",
        "service": spec.source_service,
        "method": METHOD,
        "path": audit_path(spec.slug),
        "user_id": None,
        "status": STATUS.get(result.status, 500),
        "latency_us": int(latency_us),
        "request_sha256": None,
        "response_sha256": result.content_hash,
        "problem_type": None if result.ok else f"{PROBLEM_BASE}opendata-{result.status.replace('_', '-')}",
        "signature_report_sha256": None,
        "extra": {k: v for k, v in extra.items() if v is not None},
    }


def principal(engine: Engine, client_id: str | None) -> str | None:
    """The caller name the gateway audits for ``client_id`` (its system id; the client id for a client
    without a system), so a run's entry and its source read name the same caller."""
    if not client_id:
        return None
    from sqlalchemy.orm import Session

    from lgsp.auth.models import OAuthClient

    with Session(engine) as session:
        row = session.get(OAuthClient, client_id)
    return (row.system_id or client_id) if row is not None else client_id


def record_run(engine: Engine, entry: dict[str, Any]) -> int:
    """Append the entry (own transaction, sequencer lock) and return its index once durable."""
    return write_batch(engine, [entry])[0]
