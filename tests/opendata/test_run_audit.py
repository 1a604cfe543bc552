"""Every run is audited, failed ones included (no CKAN needed: the source is down before any CKAN call)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from lgsp.audit.models import AuditEntry
from lgsp.audit.verify import verify_chain
from lgsp.opendata import CkanTarget, DatasetSpec, PipelineConfig, run_dataset
from lgsp.opendata.audit import run_entry
from lgsp.opendata.pipeline import RunResult
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.servers import RunningServer
from tests.core.providers import closed_port_url

from .conftest import SOURCE_TOKEN

NO_CKAN = CkanTarget("http://127.0.0.1:9", "unused")


@pytest.fixture
def store(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'lgsp.db'}")
    upgrade(engine)
    return engine


async def test_a_failed_run_is_audited_with_its_reason(store: Engine, spec: DatasetSpec) -> None:
    config = PipelineConfig(gateway_url=closed_port_url(), ckan=NO_CKAN)
    result = await run_dataset(spec, config, audit=store, trigger="cli")
    assert result.status == "source_failed" and result.audit_index == 0
    with Session(store) as session:
        [entry] = session.scalars(select(AuditEntry)).all()
    assert (entry.message_id, entry.method, entry.path, entry.service, entry.status) == (
        result.run_id, "PUBLISH", f"opendata/{spec.slug}", spec.source_service, 502)
    assert entry.problem_type == "https://lgsp.dev/problems/opendata-source-failed"
    assert entry.extra["outcome"] == "source_failed" and entry.extra["step"] == "fetch"
    assert entry.extra["dataset"] == spec.slug and entry.extra["rows"] == 0 and entry.extra["trigger"] == "cli"
    assert "unreachable" in entry.extra["reason"]
    assert verify_chain(store).ok  # the run's entry is part of the same hash chain as the exchanges


async def test_a_run_whose_audit_entry_cannot_be_written_is_not_ok(tmp_path: Path, spec: DatasetSpec) -> None:
    unmigrated = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no audit_entries table
    result = await run_dataset(spec, PipelineConfig(gateway_url=closed_port_url(), ckan=NO_CKAN), audit=unmigrated)
    assert result.status == "audit_failed" and not result.ok and result.audit_index is None
    assert "audit entry was NOT written" in result.message and "audit_error" in result.report


def test_run_entries_hold_no_floats_and_name_the_source_read(spec: DatasetSpec) -> None:
    result = RunResult(spec.slug, "r1", "created", "2026-11-26T10:00:00Z", rows=240, content_hash="ab" * 32,
                       api_calls=5, timings={"fetch": 0.25})
    entry = run_entry(spec, result, client="000.00.12.H10/OPENDATA", trigger="worker", latency_us=1500,
                      source_message_id="m-1", source_audit_index="41", forced=True)
    assert entry["status"] == 201 and entry["problem_type"] is None and entry["correlation_id"] == "m-1"
    assert entry["response_sha256"] == "ab" * 32
    assert entry["extra"] == {"kind": "opendata-run", "run_id": "r1", "dataset": spec.slug, "outcome": "created",
                              "rows": 240, "content_hash": "ab" * 32, "trigger": "worker", "ckan_calls": 5,
                              "source_audit_index": 41, "forced": True}

    def floats(value: object) -> bool:
        if isinstance(value, dict):
            return any(floats(v) for v in value.values())
        return isinstance(value, float)

    assert not floats(entry)


async def test_a_run_failing_at_ckan_is_audited_after_the_source_read(
        store: Engine, spec: DatasetSpec, source: tuple[RunningServer, object]) -> None:
    config = PipelineConfig(gateway_url=source[0].url, ckan=NO_CKAN, source_token=SOURCE_TOKEN)
    result = await run_dataset(spec, config, audit=store)
    assert result.status == "publish_failed" and result.audit_index == 0
    with Session(store) as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert entry.extra["step"] == "ckan" and entry.status == 502 and entry.extra["outcome"] == "publish_failed"
