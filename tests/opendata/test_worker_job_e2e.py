"""The ``lgsp worker`` job: registry datasets published on their cron schedule under a lease, each run
audited, against the served CKAN."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from lgsp.audit.models import AuditEntry
from lgsp.opendata import DatasetSpec, PipelineConfig
from lgsp.opendata.jobs import ScheduledPublisher
from lgsp.opendata.sample_source import SourceState
from lgsp.settings import Settings
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.servers import RunningServer
from lgsp.worker import plugin_jobs, run_worker
from registry import datasets as ds
from registry.declarative import apply, parse_registry_file

from .ckan_client import remote
from .conftest import CKAN_DIR, SOURCE_TOKEN, Ckan, registry_text


@pytest.fixture
def store(tmp_path: Path, spec: DatasetSpec, source: tuple[RunningServer, SourceState]) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'lgsp.db'}")
    upgrade(engine)
    apply(engine, parse_registry_file(registry_text(dataclasses.replace(spec, schedule="5 * * * *"), source[0].url)))
    yield engine
    engine.dispose()


def run_entries(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.method == "PUBLISH").order_by(AuditEntry.idx)))


def test_the_job_is_registered_for_the_worker(tmp_path: Path) -> None:
    assert "opendata" in {ep.name for ep in entry_points(group="lgsp.worker_jobs")}
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade(engine)
    assert "opendata-schedule" in {job.name for job in plugin_jobs(engine, Settings.load())}


def test_worker_publishes_due_registry_datasets_under_a_lease(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig, store: Engine,
        source: tuple[RunningServer, SourceState]) -> None:
    worker = ScheduledPublisher(store, lease=timedelta(minutes=5))
    now = datetime.now(UTC)
    [first] = worker.tick(now, config)
    assert first.status == "created" and first.rows == 240
    published = remote(ckan.url).action.package_show(id=spec.slug)
    assert published["lgsp_audit_index"] == str(first.audit_index)  # the run's own audit entry
    [entry] = run_entries(store)
    assert (entry.idx, entry.message_id, entry.extra["trigger"], entry.extra["outcome"]) == (
        first.audit_index, first.run_id, "worker", "created")
    assert entry.extra["content_hash"] == published["lgsp_content_hash"] == entry.response_sha256
    state = ds.schedule_state(store)[spec.slug]
    assert (state.last_outcome, state.last_audit_index, state.lease_token) == ("created", first.audit_index, None)

    assert worker.tick(now, config) == []  # just published: the next slot has not come

    # another worker holds the dataset's lease at the next slot: this one leaves it alone
    later = now + timedelta(hours=1, minutes=1)
    other = ds.claim(store, spec.slug, timedelta(minutes=5), later)
    assert other is not None
    assert worker.tick(later, config) == []
    assert ds.release(store, spec.slug, other, run_id="elsewhere", outcome="unchanged", audit_index=None, now=now)
    [again] = worker.tick(later, config)
    assert again.status == "unchanged" and len(run_entries(store)) == 2


def test_a_failed_scheduled_run_waits_for_the_next_slot(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig, store: Engine,
        source: tuple[RunningServer, SourceState]) -> None:
    worker = ScheduledPublisher(store, lease=timedelta(minutes=5))
    source[1].mode = "down"
    now = datetime.now(UTC)
    [failed] = worker.tick(now, config)
    assert failed.status == "source_failed" and failed.audit_index is not None
    assert ds.schedule_state(store)[spec.slug].last_outcome == "source_failed"
    assert worker.tick(now + timedelta(seconds=30), config) == []  # no retry storm on every tick

    source[1].mode = "ok"
    [recovered] = worker.tick(now + timedelta(hours=1, minutes=1), config)
    assert recovered.status == "created"
    assert [e.extra["outcome"] for e in run_entries(store)] == ["source_failed", "created"]


def test_lgsp_worker_runs_the_job(ckan: Ckan, spec: DatasetSpec, store: Engine, tmp_path: Path,
                                  source: tuple[RunningServer, SourceState], monkeypatch: pytest.MonkeyPatch) -> None:
    """The real worker loop (``lgsp worker``'s run_worker) picks the job up from its entry point and
    publishes the registry's dataset, audited in the worker's store."""
    for name, value in {"LGSP_CKAN_TOKENS": str(CKAN_DIR / "tokens.json"), "LGSP_GATEWAY_URL": source[0].url,
                        "LGSP_OPENDATA_SOURCE_TOKEN": SOURCE_TOKEN, "LGSP_OPENDATA_TICK_SECONDS": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LGSP_OPENDATA_SPECS", raising=False)
    stop = threading.Event()
    url = str(store.url.render_as_string(hide_password=False))
    worker = threading.Thread(target=run_worker, args=(Settings.load(database_url=url), stop), daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while spec.slug not in ds.schedule_state(store) or ds.schedule_state(store)[spec.slug].last_outcome is None:
            assert time.monotonic() < deadline, "the worker did not publish within 60 s"
            time.sleep(0.5)
    finally:
        stop.set()
        worker.join(30)
    [entry] = run_entries(store)
    assert (entry.extra["trigger"], entry.extra["outcome"]) == ("worker", "created")
    assert remote(ckan.url).action.package_show(id=spec.slug)["lgsp_audit_index"] == str(entry.idx)
