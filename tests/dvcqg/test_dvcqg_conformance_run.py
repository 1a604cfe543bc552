"""Run conformance_tests/dvcqg (as an operator would, in a subprocess) against our simulator — and show
that the same suite fails a lax endpoint, so it really checks something."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.dvcqg.seed import SAMPLE_AGENCY_CODE, SAMPLE_PROCEDURE_CODE
from lgsp.testing.servers import serve_in_thread

ROOT = Path(__file__).parents[2]
SUITE = "conformance_tests/dvcqg"


def run_suite(url: str, username: str, password: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "DVCQG_URL": url,
        "DVCQG_USERNAME": username,
        "DVCQG_PASSWORD": password,
        "DVCQG_MADONVI": SAMPLE_AGENCY_CODE,
    }
    command = [sys.executable, "-m", "pytest", SUITE, "-q", "-p", "no:cacheprovider", "--dvcqg-allow-writes"]
    command += ["--dvcqg-tthc", SAMPLE_PROCEDURE_CODE]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def simulator_process() -> Iterator[tuple[str, str, str]]:
    """``python -m adapters.dvcqg.simulator --port 0`` with generated credentials; yields (url, user, pw)."""
    username, password = "conf-" + secrets.token_hex(3), secrets.token_urlsafe(16)
    env = os.environ | {"DVCQG_SIM_USERNAME": username, "DVCQG_SIM_PASSWORD": password}
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.dvcqg.simulator", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = json.loads(process.stdout.readline())
        assert "password" not in banner  # credentials given by us are never echoed
        yield banner["url"], username, password
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_suite_passes_against_the_simulator(simulator_process: tuple[str, str, str]) -> None:
    result = run_suite(*simulator_process)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "skipped" not in summary and "failed" not in summary


async def _lax(request: Request) -> JSONResponse:
    """An endpoint that says yes to everything and returns one plausible row, like a careless mock."""
    row = {"TENTTHC": "Thủ tục", "LINHVUCTHUCHIEN": [{"MALINHVUC": "L", "TENLINHVUC": "Lĩnh vực"}]}
    return JSONResponse({"error_code": "00", "message": "ok", "session": "s", "result": [row]})


def test_suite_fails_a_lax_endpoint() -> None:
    app = Starlette(routes=[Route(path, _lax, methods=["POST"]) for path in ("/auth", "/integration", "/share")])
    with serve_in_thread(app) as server:
        result = run_suite(server.url, "u", "p")
    assert result.returncode == 1
    assert " error" not in result.stdout.splitlines()[-1]  # failures, not set-up errors
    for name in (
        "test_login_with_a_wrong_password_is_refused",
        "test_call_with_an_unknown_session_is_refused",
        "test_missing_required_field_is_refused",
        "test_date_not_in_yyyymmddhhmmss_is_refused",
        "test_status_outside_1_to_10_is_refused",
    ):
        assert f"FAILED {SUITE}/test_dvcqg_portal.py::{name}" in result.stdout, name
