"""Adapters are found through the `lgsp.adapters` entry-point group and their simulators run from the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from lgsp.adapters import AdapterInfo, discover
from tests.core.test_cli_and_serve import free_port


def test_installed_adapters_are_discovered() -> None:
    adapters = discover()
    assert {"ngsp", "dvcqg", "vdxp"} <= set(adapters)
    assert all(isinstance(info, AdapterInfo) and info.title for info in adapters.values())


def test_simulator_runs_through_the_cli() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lgsp.cli", "simulate", "ngsp", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/?wsdl")
                break
            except httpx.TransportError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    assert proc.stderr is not None
                    raise AssertionError(f"simulator did not start: {proc.stderr.read().decode()[-2000:]}") from exc
                time.sleep(0.2)
        assert response.status_code == 200 and b"definitions" in response.content
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def test_unknown_adapter_is_a_clear_error() -> None:
    result = subprocess.run([sys.executable, "-m", "lgsp.cli", "simulate", "nope"], capture_output=True, text=True)
    assert result.returncode == 2 and "no adapter 'nope'" in result.stderr


def test_demo_steps_come_from_the_adapters_in_tour_order() -> None:
    from lgsp.demo.runner import adapter_steps

    modules = [step.run.__module__ for step in adapter_steps()]
    # the tour's order since the demo began: SOAP mediation (step 4), documents, dossiers
    assert modules == ["adapters.ngsp.demo", "adapters.vdxp.demo", "adapters.dvcqg.demo"]
    assert [step.prepare is not None for step in adapter_steps()] == [True, False, False]  # NGSP fills the registry


def test_a_plain_callable_is_a_step_and_equal_orders_keep_adapter_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from lgsp.demo import runner
    from lgsp.sdk.demo import DemoStep, Tour

    def plain(tour: Tour) -> None: ...

    early, tied = DemoStep(run=plain, order=5), DemoStep(run=plain)
    monkeypatch.setattr(runner, "parts", lambda kind: [(None, plain), (None, tied), (None, early)])
    steps = runner.adapter_steps()
    assert steps[0] is early
    assert steps[1].run is plain and steps[1].order == 100 and steps[1].prepare is None and steps[2] is tied
