"""A new adapter is one package and one entry point: no edit in the core (docs/architecture.md).

The test writes a small adapter package (`paygov_demo`) and an installed-distribution record for it into a
temporary directory on the import path, exactly what `pip install` of a separate distribution leaves, and
checks that each part it declares reaches the core: its router is served by `lgsp serve`'s application, its
command is listed by `lgsp --help` without importing its module and runs, its worker job and delivery handler
are picked up, and its simulator runs through `lgsp simulate`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from lgsp import adapters as adapter_core
from lgsp.settings import Settings

ADAPTER_MODULE = '''
from lgsp.sdk import AdapterInfo

def _simulate(argv):
    print("paygov simulator", *(argv or []))

ADAPTER = AdapterInfo(
    name="paygov_demo",
    title="A payment platform that no lgsp release knows",
    simulator_main=_simulate,
    routers=("paygov_demo.api:router",),
    worker_jobs="paygov_demo.parts:jobs",
    delivery_handlers="paygov_demo.parts:handlers",
    commands={"payments": ("paygov_demo.cli:app", "Fee payments of the paygov_demo adapter."),
              "audit": ("paygov_demo.cli:app", "An adapter may not take over a core command.")},
)
'''
API_MODULE = '''
from fastapi import APIRouter

router = APIRouter()

@router.get("/payments/ping")
def ping() -> dict[str, str]:
    return {"adapter": "paygov_demo"}
'''
PARTS_MODULE = '''
from lgsp.sdk.worker import Job

RAN = []

def jobs(engine, settings):
    return [Job("paygov-reconcile", 60, lambda: RAN.append("reconciled"))]

async def _pay(delivery):
    return "paid-" + delivery.message_id

def handlers(engine):
    return {"paygov": _pay}
'''
CLI_MODULE = '''
import typer

app = typer.Typer(no_args_is_help=True)

@app.command("list")
def list_payments() -> None:
    print("no payments yet")

@app.command("reconcile")
def reconcile() -> None:
    print("reconciled")
'''


@pytest.fixture
def installed_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    package = tmp_path / "paygov_demo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, source in (("adapter", ADAPTER_MODULE), ("api", API_MODULE), ("parts", PARTS_MODULE),
                         ("cli", CLI_MODULE)):
        (package / f"{name}.py").write_text(textwrap.dedent(source))
    record = tmp_path / "paygov_demo-0.1.dist-info"
    record.mkdir()
    (record / "METADATA").write_text("Metadata-Version: 2.1\nName: paygov_demo\nVersion: 0.1\n")
    (record / "entry_points.txt").write_text("[lgsp.adapters]\npaygov_demo = paygov_demo.adapter:ADAPTER\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    adapter_core.discover.cache_clear()
    yield tmp_path
    adapter_core.discover.cache_clear()
    for name in [m for m in sys.modules if m == "paygov_demo" or m.startswith("paygov_demo.")]:
        del sys.modules[name]


def _lgsp(args: list[str], path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "lgsp.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_an_outside_adapter_is_discovered_with_its_parts(installed_adapter: Path) -> None:
    info = adapter_core.get("paygov_demo")
    assert info.title.startswith("A payment platform")
    assert "paygov_demo.api" not in sys.modules, "discovery must not import an adapter's parts"
    assert [a.name for a, _ in adapter_core.parts("routers")].count("paygov_demo") == 1
    assert "paygov_demo.api" in sys.modules


def test_its_router_is_served_by_the_application(installed_adapter: Path, tmp_path: Path) -> None:
    from lgsp.app import create_app

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'lgsp.db'}")
    with TestClient(create_app(settings)) as client:
        response = client.get("/payments/ping")
    assert response.status_code == 200 and response.json() == {"adapter": "paygov_demo"}


def test_its_worker_job_and_delivery_handler_are_picked_up(installed_adapter: Path, tmp_path: Path) -> None:
    from lgsp.delivery.handlers import load_handlers
    from lgsp.worker import plugin_jobs

    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    jobs = {job.name: job for job in plugin_jobs(engine, Settings())}
    assert "paygov-reconcile" in jobs
    jobs["paygov-reconcile"].run()
    assert sys.modules["paygov_demo.parts"].RAN == ["reconciled"]
    handlers = load_handlers(engine)
    assert "paygov" in handlers and "http" in handlers


def test_its_command_is_listed_without_importing_it_and_runs(installed_adapter: Path) -> None:
    listing = _lgsp(["--help"], installed_adapter)
    assert listing.returncode == 0, listing.stderr
    assert "payments" in listing.stdout and "Fee payments of the paygov_demo adapter." in listing.stdout
    assert "take over" not in listing.stdout
    run = _lgsp(["payments", "reconcile"], installed_adapter)
    assert run.returncode == 0 and "reconciled" in run.stdout, run.stderr
    simulated = _lgsp(["simulate", "paygov_demo", "--port", "9"], installed_adapter)
    assert simulated.returncode == 0 and "paygov simulator --port 9" in simulated.stdout, simulated.stderr


def test_a_core_command_keeps_its_name_when_an_adapter_declares_the_same(installed_adapter: Path) -> None:
    from lgsp.cli.lazy import LAZY_COMMANDS, lazy_commands

    lazy_commands.cache_clear()
    try:
        assert lazy_commands()["audit"] == LAZY_COMMANDS["audit"]
        assert lazy_commands()["payments"][0] == "paygov_demo.cli:app"
    finally:
        lazy_commands.cache_clear()
