"""Scheduled publishing: the entry point lgsp's worker calls on each tick.

Which datasets are due is decided from what CKAN holds (``lgsp_published_at``) and each spec's cron
``schedule``, so any number of workers can ask without shared state; the worker's own claim/lock
machinery decides who runs. Each :class:`RunResult` is meant to be written to the audit log by the
caller (``result.to_dict()``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime

from .ckan import CkanClient
from .pipeline import PipelineConfig, RunResult, run_dataset
from .spec import DatasetSpec
from .status import dataset_status


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
                  now: datetime | None = None) -> list[RunResult]:
    """Publish every due dataset, one after another; returns one result per run (audit them)."""
    return [await run_dataset(spec, config) for spec in await due_specs(specs, config, now)]
