"""What the portal holds for each registered dataset, read back from CKAN (``lgsp opendata status``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ckanapi.errors import NotFound

from registry.dataset_spec import DatasetSpec
from registry.schedule import is_due

from .ckan import CkanClient
from .errors import OpenDataError
from .publish import hand_edit_report


@dataclass
class DatasetStatus:
    dataset: str
    state: str  # "published" | "missing" | "hand_edited" | "unreachable"
    rows: int | None = None
    content_hash: str | None = None
    published_at: str | None = None
    run_id: str | None = None
    due: bool = False
    detail: str = ""


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def dataset_status(client: CkanClient, spec: DatasetSpec, now: datetime | None = None) -> DatasetStatus:
    now = now or datetime.now(UTC)
    try:
        current = client.show_or_none("package_show", spec.slug)
    except (OpenDataError, NotFound) as exc:
        return DatasetStatus(spec.slug, "unreachable", detail=str(exc))
    if current is None:
        return DatasetStatus(spec.slug, "missing", due=True, detail="never published")
    edited = hand_edit_report(current)
    rows = current.get("lgsp_row_count")
    published_at = current.get("lgsp_published_at") or None
    return DatasetStatus(
        dataset=spec.slug,
        state="hand_edited" if edited else "published",
        rows=int(rows) if rows not in (None, "") else None,
        content_hash=current.get("lgsp_content_hash") or None,
        published_at=published_at,
        run_id=current.get("lgsp_run_id") or None,
        due=is_due(spec.schedule, _parse_time(published_at), now),
        detail=edited["reason"] if edited else "",
    )
