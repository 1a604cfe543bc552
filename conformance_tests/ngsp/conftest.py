"""Options and fixtures for the NGSP conformance suite.

Run against any NGSP-style endpoint (our simulator, lgsp's pass-through, a real national system)::

    pytest conformance_tests/ngsp --ngsp-url http://127.0.0.1:8085/
    NGSP_URL=https://ngsp.example/ pytest conformance_tests/ngsp

The suite depends only on the public schemas in ``schemas/wsdl/ngsp`` and third-party libraries.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import xmlschema

sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # bounded_http, shared by the suites
from bounded_http import BoundedClient

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "wsdl" / "ngsp"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ngsp", "NGSP conformance")
    group.addoption("--ngsp-url", default=None, help="SOAP endpoint URL (or env NGSP_URL)")
    group.addoption(
        "--ngsp-client",
        default=None,
        help="X-Road client id INSTANCE/CLASS/MEMBER/SUBSYSTEM (or env NGSP_XROAD_CLIENT)",
    )
    group.addoption(
        "--ngsp-provider",
        default=None,
        help="X-Road provider INSTANCE/CLASS/MEMBER/SUBSYSTEM (or env NGSP_XROAD_PROVIDER)",
    )


def _option(config: pytest.Config, name: str, env: str, default: str | None = None) -> str | None:
    try:
        value = config.getoption(name)
    except ValueError:  # options not registered (suite collected from a parent directory)
        value = None
    return value or os.environ.get(env) or default


@pytest.fixture(scope="session")
def ngsp_url(pytestconfig: pytest.Config) -> str:
    url = _option(pytestconfig, "--ngsp-url", "NGSP_URL")
    if not url:
        pytest.skip("no NGSP endpoint: pass --ngsp-url or set NGSP_URL")
    return url


@pytest.fixture(scope="session")
def xroad_client(pytestconfig: pytest.Config) -> list[str]:
    value = _option(pytestconfig, "--ngsp-client", "NGSP_XROAD_CLIENT", "VN/GOV/000.00.12.H10/LGSP")
    assert value is not None
    return value.split("/")


@pytest.fixture(scope="session")
def xroad_provider(pytestconfig: pytest.Config) -> list[str]:
    value = _option(pytestconfig, "--ngsp-provider", "NGSP_XROAD_PROVIDER", "VN/GOV/000.00.00.G01/NGSP")
    assert value is not None
    return value.split("/")


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    with BoundedClient(timeout=15.0) as client:
        yield client


@pytest.fixture(scope="session")
def message_schema() -> xmlschema.XMLSchema:
    """The published message and X-Road header schemas, read from disk."""
    return xmlschema.XMLSchema(
        [str(SCHEMA_DIR / "ngsp-types.xsd"), str(SCHEMA_DIR / "xroad.xsd")],
        base_url=str(SCHEMA_DIR),
        allow="sandbox",
        defuse="always",
    )
