"""Shared fixtures of the vdxp tests (the factories module sits beside this file)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import secrets
from collections.abc import Iterator

import pytest
from vdxp_support import Axis, simulator_config

from adapters.vdxp.simulator import create_simulator_app
from adapters.vdxp.simulator_config import Faults
from lgsp.testing.servers import start_server


@pytest.fixture(scope="module")
def axis_server() -> Iterator[Axis]:
    lgsp_secret, vpcp_secret, admin = secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(8)
    app = create_simulator_app(simulator_config(lgsp_secret, vpcp_secret, admin))
    server = start_server(app)
    try:
        yield Axis(server, app.state.axis, "lgsp-cantho", lgsp_secret, "vpcp-qlvb", vpcp_secret, admin)
    finally:
        server.stop()


@pytest.fixture
def axis(axis_server: Axis) -> Iterator[Axis]:
    """The module's simulator, emptied and fault-free for each test."""
    axis_server.state.reset()
    axis_server.state.faults = Faults()
    yield axis_server
    axis_server.state.faults = Faults()
