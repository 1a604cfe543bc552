"""The worker's tick: which datasets are due, decided from what CKAN holds and each cron schedule."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from lgsp.opendata import DatasetSpec, PipelineConfig, due_specs, run_due

from .ckan_client import remote
from .conftest import Ckan


async def test_run_due_publishes_missing_then_waits_for_the_next_slot(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig) -> None:
    hourly = dataclasses.replace(spec, schedule="5 * * * *")
    [first] = await run_due([hourly], config)
    assert first.status == "created"

    now = datetime.now(UTC)
    assert await due_specs([hourly], config, now) == []  # just published: next slot not reached
    assert await due_specs([hourly], config, now + timedelta(hours=1, minutes=1)) == [hourly]

    remote(ckan.publisher).action.package_patch(id=spec.slug, notes="edited by hand")
    assert await due_specs([hourly], config, now + timedelta(hours=2)) == []  # waits for a person
