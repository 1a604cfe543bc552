"""Scheduled publishing: due datasets, and the ``lgsp worker`` job that publishes them.

Which datasets are due is decided from what CKAN holds (``lgsp_published_at``) and each spec's cron
``schedule`` (:func:`due_specs`), so workers need no shared clock. The worker job
(:func:`opendata_jobs`, entry point ``lgsp.worker_jobs: opendata``) runs the *registry's* datasets:
before running one it takes the dataset's lease in ``dataset_schedule`` (registry/datasets.py), so any
number of workers on one store publish each due dataset once; a failed attempt is retried at the next
cron slot, not on every tick. Every run is audited into the worker's store.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine

from lgsp.jobs import Job
from lgsp.settings import Settings, positive_setting
from registry.dataset_spec import DatasetSpec
from registry.schedule import is_due

from .ckan import CkanClient
from .pipeline import PipelineConfig, RunResult, run_dataset
from .status import dataset_status

log = structlog.get_logger("lgsp.opendata")


async def due_specs(specs: Iterable[DatasetSpec], config: PipelineConfig,
                    now: datetime | None = None) -> list[DatasetSpec]:
    """Specs whose schedule has a slot since their last publish (or that were never published).
    A dataset flagged as hand-edited is not due: it waits for a person (publish --force)."""
    now = now or datetime.now(UTC)
    client = CkanClient(config.ckan)
    due = []
    for spec in specs:
        status = await asyncio.to_thread(dataset_status, client, spec, now)
        if status.due and status.state in {"published", "missing"}:
            due.append(spec)
    return due


async def run_due(specs: Iterable[DatasetSpec], config: PipelineConfig,
                  now: datetime | None = None, audit: Engine | None = None) -> list[RunResult]:
    """Publish every due dataset, one after another; returns one result per run."""
    return [await run_dataset(spec, config, audit=audit, trigger="schedule")
            for spec in await due_specs(specs, config, now)]


def lease_from_env() -> timedelta:
    """``LGSP_OPENDATA_LEASE_SECONDS`` (default 1800): how long one worker holds a dataset's run.

    A bad value is the one ``error:`` line of every setting (``float()``'s ValueError was a traceback of
    ``lgsp worker``); it must be positive, or no claim would ever hold."""
    return timedelta(seconds=positive_setting("LGSP_OPENDATA_LEASE_SECONDS", 1800, maximum=7 * 86400))


class ScheduledPublisher:
    """The worker's open-data job: each tick publishes the registry's due datasets under a lease."""

    def __init__(self, engine: Engine, lease: timedelta | None = None) -> None:
        self.engine = engine
        self.lease = lease or lease_from_env()
        self._thread: threading.Thread | None = None
        self._warned = False

    def tick(self, now: datetime | None = None, config: PipelineConfig | None = None) -> list[RunResult]:
        """One pass over the registry's datasets (synchronous; what the background thread runs)."""
        from registry.datasets import load_specs

        from .settings import SettingsError, pipeline_config

        specs = load_specs(self.engine)
        if not specs:
            return []
        if config is None:
            try:
                config = pipeline_config()
            except SettingsError as exc:
                if not self._warned:  # once per process: the operator has not configured CKAN yet
                    log.warning("open-data schedule idle: no CKAN configured", reason=str(exc))
                    self._warned = True
                return []
        return asyncio.run(self._run(list(specs.values()), config, now or datetime.now(UTC)))

    async def _run(self, specs: list[DatasetSpec], config: PipelineConfig, now: datetime) -> list[RunResult]:
        from registry.datasets import claim, release, schedule_state

        state = await asyncio.to_thread(schedule_state, self.engine)
        # A dataset attempted (and failed) since its last slot waits for the next one.
        waiting = [s for s in specs if s.slug not in state or is_due(s.schedule, state[s.slug].last_attempt_at, now)]
        results = []
        for spec in await due_specs(waiting, config, now):
            token = await asyncio.to_thread(claim, self.engine, spec.slug, self.lease, now)
            if token is None:
                continue  # another worker is publishing it
            result = RunResult(spec.slug, "", "failed", "")
            try:
                result = await run_dataset(spec, config, audit=self.engine, trigger="worker")
            finally:
                await asyncio.to_thread(release, self.engine, spec.slug, token, run_id=result.run_id,
                                        outcome=result.status, audit_index=result.audit_index, now=now)
            log.info("open-data run", dataset=spec.slug, status=result.status, rows=result.rows,
                     audit_index=result.audit_index, run_id=result.run_id)
            results.append(result)
        return results

    def ensure_running(self) -> None:
        """The worker's job: start a tick in a background thread unless one is still running (a large
        dataset may take minutes; the worker's other jobs must not wait for it)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._tick_logged, name="lgsp-opendata", daemon=True)
        self._thread.start()

    def _tick_logged(self) -> None:
        try:
            self.tick()
        except Exception:
            log.exception("open-data tick failed")


def opendata_jobs(engine: Engine, settings: Settings) -> list[Job]:
    """Factory for the ``lgsp.worker_jobs`` entry-point group (tick: ``LGSP_OPENDATA_TICK_SECONDS``)."""
    publisher = ScheduledPublisher(engine)
    every = positive_setting("LGSP_OPENDATA_TICK_SECONDS", 60, maximum=86400)  # 0 or less: a busy loop
    return [Job("opendata-schedule", every, publisher.ensure_running)]
