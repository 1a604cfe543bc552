"""Adapters are found through the `lgsp.adapters` entry-point group and their simulators run from the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

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
