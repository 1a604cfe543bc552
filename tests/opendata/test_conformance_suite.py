"""Run conformance_tests/opendata against the served CKAN: it passes on what lgsp published and
catches a resource whose bytes no longer match the recorded hash."""

from __future__ import annotations

import os
import subprocess
import sys

from lgsp.opendata import DatasetSpec, PipelineConfig, run_dataset

from .ckan_client import remote, show
from .conftest import ROOT, Ckan


def run_suite(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "conformance_tests/opendata",
         "--portal-url", url, "--portal-max-datasets", "10"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def test_conformance_suite_against_served_ckan(ckan: Ckan, spec: DatasetSpec,
                                                     config: PipelineConfig) -> None:
    assert (await run_dataset(spec, config)).status == "created"
    passed = run_suite(ckan.url)
    assert passed.returncode == 0, passed.stdout[-3000:]

    # Someone replaces the CSV's bytes but leaves the recorded hash: the suite must notice.
    csv_resource = next(r for r in show(ckan.url, spec.slug)["resources"] if r["format"] == "CSV")
    remote(ckan.publisher).call_action(
        "resource_patch", {"id": csv_resource["id"]},
        files={"upload": (csv_resource["name"], b"station_id\nforged\n", "text/csv")})
    try:
        failed = run_suite(ckan.url)
        assert failed.returncode == 1 and "sha256" in failed.stdout, failed.stdout[-3000:]
    finally:
        remote(ckan.publisher).action.package_delete(id=spec.slug)
