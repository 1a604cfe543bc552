"""The demo's open-data step on its own: demo registry, demo air-quality service, real gateway, served CKAN.
It must publish through the gateway with an audited run, print a ckanapi command that really fetches the
data, and carry on with a clear message when CKAN cannot be set up."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from lgsp.audit.models import AuditEntry
from lgsp.demo import opendata_step as step
from registry.datasets import load_specs

from .ckan_client import remote
from .conftest import Ckan, Demo, run_step


def test_the_step_publishes_through_the_gateway_and_the_printed_command_fetches_it(
        ckan: Ckan, demo: Demo) -> None:
    out = run_step(demo)
    assert "+ dataset can-tho-air-quality" in out
    assert "can-tho-air-quality: created: 48 rows" in out and "can-tho-air-quality: unchanged: 48 rows" in out
    assert out.count("matches the portal's sha256") == 2  # CSV and JSON, downloaded by the printed command
    assert "CKAN portal at" in out and "could not be set up" not in out

    published = remote(ckan.url).action.package_show(id=step.SLUG)
    assert published["lgsp_source_service"] == step.SOURCE_SERVICE and published["lgsp_row_count"] in (48, "48")
    with Session(demo.engine) as session:
        run = session.get(AuditEntry, int(published["lgsp_audit_index"]))
        assert run is not None
        read = session.get(AuditEntry, run.extra["source_audit_index"])
    assert run is not None and read is not None
    assert (run.method, run.client, run.extra["outcome"], run.extra["trigger"]) == (
        "PUBLISH", step.PUBLISHER_SYSTEM, "created", "demo")
    assert run.extra["run_id"] == published["lgsp_run_id"]
    assert (read.method, read.client, read.service, read.status) == (
        "GET", step.PUBLISHER_SYSTEM, step.SOURCE_SERVICE, 200)

    # the command as printed (one line after the heading) works from a shell, on its own
    lines = out.splitlines()
    command = lines[lines.index(next(x for x in lines if x.startswith("Fetch it with ckanapi"))) + 1].strip()
    assert "ckanapi action package_show id=can-tho-air-quality" in command
    (step.OUTPUT_DIR / f"{step.SLUG}.csv").unlink()
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stdout[-2000:], done.stderr[-3000:])
    csv_lines = (step.OUTPUT_DIR / f"{step.SLUG}.csv").read_text(encoding="utf-8").splitlines()
    assert csv_lines[0] == "ma_tram,thoi_gian,pm25,pm10,aqi" and len(csv_lines) == 49
    assert len(json.loads((step.OUTPUT_DIR / f"{step.SLUG}.json").read_text(encoding="utf-8"))) == 48


def test_without_ckan_the_step_says_so_and_the_demo_goes_on(demo: Demo, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    monkeypatch.setenv("LGSP_CKAN_DIR", str(tmp_path / "no-ckan"))  # no tokens: nothing answers
    monkeypatch.setattr(step, "SCRIPTS", tmp_path / "no-scripts")  # and nothing can be started
    out = run_step(demo)
    assert "CKAN could not be set up here, so nothing is published" in out and "is missing" in out
    assert step.SLUG in load_specs(demo.engine)  # the registry part of the step still happened

    monkeypatch.setenv("LGSP_DEMO_CKAN", "0")
    assert "LGSP_DEMO_CKAN=0" in run_step(demo)
