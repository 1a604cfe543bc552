"""Options and fixtures for the DVCQG conformance suite (run against any DVCQG-style endpoint).

    pytest conformance_tests/dvcqg --dvcqg-url https://adapter.example/api --dvcqg-tthc 1.001193
    # credentials from the environment so they stay out of shell history and `ps`:
    DVCQG_USERNAME=… DVCQG_PASSWORD=… DVCQG_MADONVI=000.00.12.H10 pytest conformance_tests/dvcqg

Write tests (they create dossiers named ``LGSP-CONF-…``) run only with ``--dvcqg-allow-writes``; do not
enable that against the production portal. Tests marked ``inferred`` check behaviour we assume but no
public document states; deselect them with ``-m "not inferred"``. Nothing of lgsp is imported: the suite
speaks the wire protocol of PROTOCOLS.md §4 directly.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dvcqg_wire import Endpoint, is_ok, stamp

sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # bounded_http, shared by the suites
from bounded_http import BoundedClient

OPTIONS = {
    # option: (environment variable, default, help)
    "url": ("DVCQG_URL", None, "adapter_url of the endpoint under test"),
    "username": ("DVCQG_USERNAME", None, "account username (prefer the environment variable)"),
    "password": ("DVCQG_PASSWORD", None, "account password (prefer the environment variable)"),
    "madonvi": ("DVCQG_MADONVI", None, "agency code sent as madonvi"),
    "auth-path": ("DVCQG_AUTH_PATH", "/auth", "auth_endpoint"),
    "integration-path": ("DVCQG_INTEGRATION_PATH", "/integration", "integration_endpoint"),
    "share-path": ("DVCQG_SHARE_PATH", "/share", "share_endpoint"),
    "tthc": ("DVCQG_TTHC", None, "a national procedure code (maTTHC) the endpoint knows"),
    "timeout": ("DVCQG_TIMEOUT", "30", "seconds per request"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dvcqg", "DVCQG conformance")
    for name, (env, _default, text) in OPTIONS.items():
        group.addoption(f"--dvcqg-{name}", default=None, help=f"{text} (env {env})")
    group.addoption(
        "--dvcqg-allow-writes",
        action="store_true",
        default=False,
        help="run tests that push test dossiers (env DVCQG_ALLOW_WRITES=1); never against production",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "inferred: checks behaviour not stated by a public document [I]")
    config.addinivalue_line("markers", "writes: pushes test dossiers; needs --dvcqg-allow-writes")


def _option(config: pytest.Config, name: str) -> str | None:
    env, default, _ = OPTIONS[name]
    value = config.getoption(f"--dvcqg-{name}") or os.environ.get(env) or default
    return str(value) if value is not None else None


@pytest.fixture(scope="session")
def endpoint(pytestconfig: pytest.Config) -> Iterator[Endpoint]:
    values = {name: _option(pytestconfig, name) for name in OPTIONS}
    missing = [name for name in ("url", "username", "password", "madonvi") if not values[name]]
    if missing:
        pytest.skip("DVCQG endpoint not configured: " + ", ".join(f"--dvcqg-{m}" for m in missing))
    with BoundedClient(timeout=float(values["timeout"] or 30)) as http:
        yield Endpoint(
            http=http,
            url=str(values["url"]),
            username=str(values["username"]),
            password=str(values["password"]),
            madonvi=str(values["madonvi"]),
            paths={
                "auth": str(values["auth-path"]),
                "integration": str(values["integration-path"]),
                "share": str(values["share-path"]),
            },
            tthc=values["tthc"],
        )


@pytest.fixture(scope="session")
def session(endpoint: Endpoint) -> str:
    answer = endpoint.login()
    assert is_ok(answer.get("error_code")), f"login failed: {str(answer)[:300]}"
    assert isinstance(answer.get("session"), str) and answer["session"], f"login gave no session: {str(answer)[:300]}"
    return str(answer["session"])


@pytest.fixture
def writable(pytestconfig: pytest.Config) -> None:
    if not (pytestconfig.getoption("--dvcqg-allow-writes") or os.environ.get("DVCQG_ALLOW_WRITES") == "1"):
        pytest.skip("write tests need --dvcqg-allow-writes")


@pytest.fixture
def procedure(endpoint: Endpoint, session: str) -> dict[str, Any]:
    """The procedure named by --dvcqg-tthc, as LayThuTuc returns it."""
    if not endpoint.tthc:
        pytest.skip("needs --dvcqg-tthc (a procedure code the endpoint knows)")
    answer = endpoint.call("LayThuTuc", session, maTTHC=endpoint.tthc)
    assert is_ok(answer["error_code"]) and answer.get("result"), (
        f"LayThuTuc({endpoint.tthc}) failed: {str(answer)[:300]}")
    result = answer["result"]
    assert isinstance(result, list) and isinstance(result[0], dict), (
        f"LayThuTuc: result must be a list of objects, not {str(result)[:200]}")
    fields = result[0].get("LINHVUCTHUCHIEN")
    assert isinstance(fields, list) and fields and isinstance(fields[0], dict), (
        f"LayThuTuc: LINHVUCTHUCHIEN must be a non-empty list of objects, not {str(fields)[:200]}")
    return dict(result[0])


@pytest.fixture
def new_dossier(endpoint: Endpoint, procedure: dict[str, Any]) -> dict[str, Any]:
    """A complete §4.3 record with a fresh ``MaHoSo``."""
    field = procedure["LINHVUCTHUCHIEN"][0]
    return {
        "MaHoSo": f"LGSP-CONF-{uuid.uuid4().hex[:12].upper()}",
        "MaTTHC": endpoint.tthc,
        "TenTTHC": procedure["TENTTHC"],
        "MaLinhVuc": field["MALINHVUC"],
        "TenLinhVuc": field["TENLINHVUC"],
        "ChuHoSo": "Hồ sơ kiểm thử LGSP",
        "LoaiDoiTuong": "1",
        "TrichYeuHoSo": "Kiểm thử tương thích (conformance test)",
        "NgayTiepNhan": stamp(),
        "NgayHenTra": stamp(5),
        "TrangThaiHoSo": "2",
        "HinhThuc": "0",
        "DonViXuLy": "LGSP conformance",
    }
