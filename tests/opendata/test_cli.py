"""``lgsp opendata publish`` / ``status`` through typer, against the served CKAN: datasets from YAML specs
(``LGSP_OPENDATA_SPECS``) and from the registry (``lgsp apply`` with a ``datasets:`` section), each run
audited in the store of ``LGSP_DATABASE_URL``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from lgsp.audit.models import AuditEntry
from lgsp.opendata import DatasetSpec
from lgsp.opendata.cli import app
from lgsp.opendata.sample_source import SourceState
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.servers import RunningServer
from registry.declarative import apply, parse_registry_file

from .ckan_client import remote
from .conftest import CKAN_DIR, SOURCE_TOKEN, Ckan, registry_text


@pytest.fixture()
def env(tmp_path: Path, ckan: Ckan, spec: DatasetSpec, source: tuple[RunningServer, SourceState],
        monkeypatch: pytest.MonkeyPatch) -> DatasetSpec:
    data = dataclasses.asdict(spec)
    data["tags"] = list(data["tags"])
    (tmp_path / f"{spec.slug}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("LGSP_OPENDATA_SPECS", str(tmp_path))
    monkeypatch.setenv("LGSP_DATABASE_URL", f"sqlite:///{tmp_path / 'store' / 'lgsp.db'}")
    monkeypatch.setenv("LGSP_CKAN_TOKENS", str(CKAN_DIR / "tokens.json"))
    monkeypatch.setenv("LGSP_GATEWAY_URL", source[0].url)
    monkeypatch.setenv("LGSP_OPENDATA_SOURCE_TOKEN", SOURCE_TOKEN)
    return spec


def test_publish_then_status(env: DatasetSpec, ckan: Ckan) -> None:
    runner = CliRunner()
    published = runner.invoke(app, ["publish", env.slug, "--json"])
    assert published.exit_code == 0, published.output
    [result] = json.loads(published.output)
    assert result["status"] == "created" and result["rows"] == 240
    shown = remote(ckan.url).action.package_show(id=env.slug)
    assert shown["lgsp_run_id"] == result["run_id"] and shown["lgsp_audit_index"] == str(result["audit_index"])

    again = runner.invoke(app, ["publish", "--all"])
    assert again.exit_code == 0 and "unchanged" in again.output

    status = runner.invoke(app, ["status", "--json"])
    assert status.exit_code == 0, status.output
    [state] = json.loads(status.output)
    assert (state["dataset"], state["state"], state["rows"]) == (env.slug, "published", 240)
    assert state["content_hash"] == result["content_hash"] and state["due"] is False

    remote(ckan.publisher).action.package_patch(id=env.slug, notes="edited by hand")
    [edited] = json.loads(runner.invoke(app, ["status", "--json"]).output)
    assert edited["state"] == "hand_edited" and edited["detail"].startswith("metadata changed")
    table = runner.invoke(app, ["status"])
    assert table.exit_code == 0 and "hand_edit" in table.output


def test_failures_exit_non_zero_with_the_report(env: DatasetSpec,
                                                source: tuple[RunningServer, SourceState]) -> None:
    source[1].mode = "leak"
    result = CliRunner().invoke(app, ["publish", env.slug])
    assert result.exit_code == 1
    assert "blocked" in result.output and "nguoi_bao_cao" in result.output
    unknown = CliRunner().invoke(app, ["publish", "no-such-dataset"])
    assert unknown.exit_code == 2 and "unknown dataset" in unknown.output


def publish_entries(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.method == "PUBLISH")))


def test_datasets_come_from_the_registry(tmp_path: Path, ckan: Ckan, spec: DatasetSpec,
                                         source: tuple[RunningServer, SourceState],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'lgsp.db'}"
    for name, value in {"LGSP_DATABASE_URL": url, "LGSP_CKAN_TOKENS": str(CKAN_DIR / "tokens.json"),
                        "LGSP_GATEWAY_URL": source[0].url, "LGSP_OPENDATA_SOURCE_TOKEN": SOURCE_TOKEN}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LGSP_OPENDATA_SPECS", raising=False)
    runner = CliRunner()
    empty = runner.invoke(app, ["publish", "--all"])
    assert empty.exit_code == 2 and "no datasets" in empty.output

    engine = make_engine(url)
    upgrade(engine)
    apply(engine, parse_registry_file(registry_text(spec, source[0].url)))
    published = runner.invoke(app, ["publish", spec.slug, "--json"])
    assert published.exit_code == 0, published.output
    [result] = json.loads(published.output)
    assert result["status"] == "created"
    [entry] = publish_entries(engine)
    assert (entry.idx, entry.extra["run_id"], entry.extra["trigger"]) == (
        result["audit_index"], result["run_id"], "cli")
    [state] = json.loads(runner.invoke(app, ["status", "--json"]).output)
    assert (state["dataset"], state["state"], state["rows"]) == (spec.slug, "published", 240)

    # the same slug also as a YAML spec is ambiguous: refused, nothing runs
    data = dataclasses.asdict(spec)
    data["tags"] = list(data["tags"])
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "dup.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("LGSP_OPENDATA_SPECS", str(tmp_path / "specs"))
    both = runner.invoke(app, ["publish", "--all"])
    assert both.exit_code == 2 and "both in the registry and in" in both.output
    assert len(publish_entries(engine)) == 1
