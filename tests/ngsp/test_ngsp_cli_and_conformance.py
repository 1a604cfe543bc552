"""The simulator runs as ``python -m adapters.ngsp.simulator``, and passes the NGSP conformance suite."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from lgsp.testing.servers import RunningServer, bind_socket

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    sock = bind_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def test_simulator_runs_as_a_module() -> None:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "adapters.ngsp.simulator", "--port", str(port)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        assert b"wsdl:definitions" in httpx.get(f"http://127.0.0.1:{port}/?wsdl").content
    finally:
        proc.terminate()
        proc.wait(10)


def test_conformance_suite_passes_against_the_simulator(ngsp_sim: RunningServer) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "conformance_tests/ngsp",
            "--ngsp-url",
            ngsp_sim.url + "/",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout and "failed" not in result.stdout
