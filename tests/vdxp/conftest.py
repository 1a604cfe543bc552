"""Shared fixtures of the vdxp tests (the factories module sits beside this file)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import secrets  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import pytest  # noqa: E402
from factories import OTHER, RECIPIENT, SENDER  # noqa: E402

from adapters.vdxp.simulator import AxisState, create_simulator_app  # noqa: E402
from adapters.vdxp.simulator_config import Faults  # noqa: E402
from lgsp.testing.servers import RunningServer, start_server  # noqa: E402


@dataclass
class Axis:
    """A running simulator plus the generated credentials of its two systems."""

    server: RunningServer
    state: AxisState
    lgsp_id: str
    lgsp_secret: str
    vpcp_id: str
    vpcp_secret: str
    admin_token: str

    @property
    def url(self) -> str:
        return self.server.url


def simulator_config(lgsp_secret: str, vpcp_secret: str, admin_token: str) -> dict[str, object]:
    return {
        "systems": [
            {"system_id": "lgsp-cantho", "secret": lgsp_secret, "agencies": [SENDER, OTHER]},
            {"system_id": "vpcp-qlvb", "secret": vpcp_secret, "agencies": [RECIPIENT]},
        ],
        "agencies": [
            {"code": SENDER, "name": "Sở Thông tin và Truyền thông Cần Thơ"},
            {"code": OTHER, "name": "Sở Nội vụ Cần Thơ"},
            {"code": RECIPIENT, "name": "Văn phòng Chính phủ"},
        ],
        "admin_token": admin_token,
        "max_clock_skew_s": 300,
    }


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
