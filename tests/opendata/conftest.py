"""Fixtures for the open-data tests: a REAL CKAN 2.12 served on 127.0.0.1 (installed and started by
scripts/ckan/*.sh, Solr replaced by the labelled test double in tests/solr_standin), the sample
department service as a real HTTP server, and dataset specs with unique slugs per test."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

import httpx
import pytest
import yaml
from rich.console import Console
from sqlalchemy import Engine

from lgsp.app import create_app
from lgsp.auth.clients import create_client
from lgsp.demo import opendata_step as step
from lgsp.demo.providers import air_quality_app, civil_status_app
from lgsp.opendata import CkanTarget, DatasetSpec, PipelineConfig, load_specs
from lgsp.opendata.sample_source import SERVICE_ID, SourceState
from lgsp.opendata.sample_source import create_app as source_app
from lgsp.settings import Settings
from lgsp.testing.servers import RunningServer, start_server
from registry.declarative import apply, parse_registry_file

ROOT = Path(__file__).resolve().parents[2]
CKAN_DIR = Path(os.environ.get("LGSP_CKAN_DIR", ROOT / "var" / "ckan"))
SCRIPTS = ROOT / "scripts" / "ckan"
SOURCE_TOKEN = "sample-source-token"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first test to use ``ckan`` may install CKAN (minutes on a cold cache): give those tests
    room beyond the suite's default timeout. Only this folder's tests are touched."""
    here = Path(__file__).parent
    for item in items:
        if "ckan" in getattr(item, "fixturenames", ()) and here in item.path.parents:
            item.add_marker(pytest.mark.timeout(1500))


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/3/action/status_show", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _ours_running() -> bool:
    """Whether CKAN's gunicorn from var/ckan/ckan.pid is alive (then someone else started it)."""
    try:
        os.kill(int((CKAN_DIR / "ckan.pid").read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def _run(script: str, timeout: float) -> None:
    proc = subprocess.run(["bash", str(SCRIPTS / script)], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/ckan/{script} exited {proc.returncode}:\n{proc.stderr[-3000:]}")


@dataclasses.dataclass(frozen=True)
class Ckan:
    url: str
    publisher: CkanTarget
    admin: CkanTarget


@pytest.fixture(scope="session")
def ckan() -> Iterator[Ckan]:
    """The served CKAN. Skips with the reason when it cannot be installed here -- but fails instead
    when LGSP_REQUIRE_SERVICES=1 (CI), so a broken install can never pass as a skip."""
    tokens = CKAN_DIR / "tokens.json"
    started = False
    try:
        if not (tokens.is_file() and _answers(json.loads(tokens.read_text())["url"])):
            already = _ours_running()  # still starting up: leave it to whoever started it
            _run("ensure.sh", timeout=1200)
            _run("start.sh", timeout=300)
            started = not already
        data = json.loads(tokens.read_text())
    except (RuntimeError, subprocess.TimeoutExpired, OSError, KeyError, ValueError) as exc:
        reason = f"CKAN could not be installed or started: {exc}"
        if os.environ.get("LGSP_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    yield Ckan(data["url"], CkanTarget(data["url"], data["publisher"]), CkanTarget(data["url"], data["admin"]))
    if started:
        _run("stop.sh", timeout=60)


@pytest.fixture()
def source() -> Iterator[tuple[RunningServer, SourceState]]:
    """The sample department service (air-quality readings) on a free port, bearer-token protected."""
    state = SourceState(token=SOURCE_TOKEN)
    server = start_server(source_app(state))
    try:
        yield server, state
    finally:
        server.stop()


@pytest.fixture()
def spec() -> DatasetSpec:
    """The demo dataset spec under a slug no other test (or earlier run) uses."""
    base = load_specs(ROOT / "lgsp" / "opendata" / "datasets")["can-tho-air-quality"]
    return dataclasses.replace(base, slug=f"test-aq-{uuid.uuid4().hex[:10]}")


@pytest.fixture()
def config(ckan: Ckan, source: tuple[RunningServer, SourceState]) -> PipelineConfig:
    return PipelineConfig(gateway_url=source[0].url, ckan=ckan.publisher, source_token=SOURCE_TOKEN)


def registry_text(spec: DatasetSpec, source_url: str) -> str:
    """A registry file with the sample service and ``spec`` as a `datasets:` entry (for `lgsp apply`)."""
    item = dataclasses.asdict(spec)
    item.pop("extra")
    item["tags"] = list(item["tags"])
    agency, system, _ = SERVICE_ID.split("/")
    return yaml.safe_dump({
        "agencies": [{"code": agency, "name": "UBND thành phố Cần Thơ"}],
        "systems": [{"id": f"{agency}/{system}", "name": "Quan trắc", "client": False, "provider": True}],
        "services": [{"id": SERVICE_ID, "name": "Chất lượng không khí",
                      "base_url": f"{source_url}/services/{SERVICE_ID}"}],
        "datasets": [item],
    }, allow_unicode=True, sort_keys=False)


DEMO_REGISTRY = Path(step.__file__).with_name("registry.yaml")


@dataclass
class Demo:
    base_url: str
    auth: dict[str, str]
    engine: Engine


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Demo]:
    """The demo's stack as runner.py builds it (minus the SOAP simulator), in a scratch directory."""
    monkeypatch.chdir(tmp_path)
    servers: list[RunningServer] = [start_server(air_quality_app()), start_server(civil_status_app())]
    app = create_app(Settings.load(database_url=f"sqlite:///{tmp_path / 'lgsp.db'}", access_log=False))
    registry = Template(DEMO_REGISTRY.read_text(encoding="utf-8")).substitute(
        AIR_QUALITY_URL=servers[0].url, CIVIL_STATUS_URL=servers[1].url, NGSP_URL="http://127.0.0.1:9")
    apply(app.runtime.engine, parse_registry_file(registry))
    create_client(app.runtime.engine, "000.00.12.H10/MOTCUA", ["gateway"])
    app.runtime.registry_changed()
    servers.append(start_server(app))
    try:
        yield Demo(servers[-1].url, {}, app.runtime.engine)
    finally:
        for server in reversed(servers):
            server.stop()
        app.runtime.engine.dispose()


def run_step(demo: Demo) -> str:
    console = Console(record=True, width=400, color_system=None)
    step.opendata_step(console, demo.base_url, demo.auth, demo.engine)
    return console.export_text()
