"""The running-simulator handle and configuration shared by the vdxp tests."""

from __future__ import annotations

from dataclasses import dataclass

from vdxp_factories import OTHER, RECIPIENT, SENDER

from adapters.vdxp.simulator import AxisState
from lgsp.testing.servers import RunningServer


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
