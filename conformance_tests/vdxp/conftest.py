"""Conformance suite for a national document-exchange axis endpoint and for edXML producers.

Independent of lgsp's code on purpose (only ``schemas/edxml`` is shared): it has its own small HMAC
client and its own packet templates, so a bug in lgsp's client cannot hide the same bug in a simulator.

Options (or environment variables):

  --vdxp-url URL               VDXP_URL            axis base URL (tests of the axis skip without it)
  --vdxp-system-id ID          VDXP_SYSTEM_ID      sending system
  --vdxp-secret SECRET         VDXP_SECRET
  --vdxp-sender CODE           VDXP_SENDER         agency code the sending system sends as
  --vdxp-recipient CODE        VDXP_RECIPIENT      agency that receives the test documents
  --vdxp-recv-system-id ID     VDXP_RECV_SYSTEM_ID system that receives for --vdxp-recipient (default: sender's)
  --vdxp-recv-secret SECRET    VDXP_RECV_SECRET
  --vdxp-allow-send            VDXP_ALLOW_SEND=1   also send test documents (never by default: a real axis
                                                   would deliver them to a real agency)
  --edxml-dir DIR              EDXML_DIR           *.edxml files written by the producer under test
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # bounded_http, shared by the suites

from axis_http import AxisHttp, AxisTarget

_OPTIONS = {
    "--vdxp-url": "VDXP_URL",
    "--vdxp-system-id": "VDXP_SYSTEM_ID",
    "--vdxp-secret": "VDXP_SECRET",
    "--vdxp-sender": "VDXP_SENDER",
    "--vdxp-recipient": "VDXP_RECIPIENT",
    "--vdxp-recv-system-id": "VDXP_RECV_SYSTEM_ID",
    "--vdxp-recv-secret": "VDXP_RECV_SECRET",
    "--edxml-dir": "EDXML_DIR",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vdxp", "national document-exchange axis conformance")
    for option, env in _OPTIONS.items():
        group.addoption(option, default=os.environ.get(env), help=f"(env {env})")
    group.addoption(
        "--vdxp-allow-send",
        action="store_true",
        default=os.environ.get("VDXP_ALLOW_SEND") == "1",
        help="send test documents through the axis (env VDXP_ALLOW_SEND=1)",
    )


def _opt(config: pytest.Config, name: str) -> str:
    return str(config.getoption(name) or "")


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> AxisTarget:
    url = _opt(pytestconfig, "--vdxp-url")
    if not url:
        pytest.skip("no axis under test: pass --vdxp-url (or VDXP_URL)")
    system_id, secret = _opt(pytestconfig, "--vdxp-system-id"), _opt(pytestconfig, "--vdxp-secret")
    if not system_id or not secret:
        pytest.fail("--vdxp-system-id and --vdxp-secret are required with --vdxp-url")
    return AxisTarget(
        url=url.rstrip("/"),
        system_id=system_id,
        secret=secret,
        sender=_opt(pytestconfig, "--vdxp-sender"),
        recipient=_opt(pytestconfig, "--vdxp-recipient"),
        recv_system_id=_opt(pytestconfig, "--vdxp-recv-system-id") or system_id,
        recv_secret=_opt(pytestconfig, "--vdxp-recv-secret") or secret,
        allow_send=bool(pytestconfig.getoption("--vdxp-allow-send")),
    )


@pytest.fixture(scope="session")
def sending_target(target: AxisTarget) -> AxisTarget:
    if not target.allow_send:
        pytest.skip("sending tests need --vdxp-allow-send")
    if not target.sender or not target.recipient:
        pytest.fail("--vdxp-sender and --vdxp-recipient are required with --vdxp-allow-send")
    return target


@pytest.fixture(scope="session")
def sender_http(target: AxisTarget) -> Iterator[AxisHttp]:
    with AxisHttp(target.url, target.system_id, target.secret) as http:
        yield http


@pytest.fixture(scope="session")
def receiver_http(target: AxisTarget) -> Iterator[AxisHttp]:
    with AxisHttp(target.url, target.recv_system_id, target.recv_secret) as http:
        yield http


def _producer_files(config: pytest.Config) -> list[Path]:
    """The ``*.edxml``/``*.xml`` entries of ``--edxml-dir`` (not its subfolders), sorted.

    A folder that cannot be listed is a usage error (pytest exit 4 with the reason), not a crash while
    collecting; entries that are not readable files are kept, so that their checks fail and name them.
    """
    directory = _opt(config, "--edxml-dir")
    if not directory:
        return []
    try:
        return sorted(p for p in Path(directory).iterdir() if p.suffix.lower() in (".edxml", ".xml"))
    except OSError as exc:
        raise pytest.UsageError(f"--edxml-dir {directory}: {exc.strerror or exc}") from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "producer_file" in metafunc.fixturenames:
        files = _producer_files(metafunc.config)
        metafunc.parametrize("producer_file", files or [None], ids=[p.name for p in files] or ["no-producer"])


@pytest.fixture(scope="session")
def producer_files(pytestconfig: pytest.Config) -> list[Path]:
    files = _producer_files(pytestconfig)
    if not files:
        pytest.skip("no producer output: pass --edxml-dir DIR")
    return files
