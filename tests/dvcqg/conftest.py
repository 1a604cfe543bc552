"""Fixtures: a real DVCQG simulator on 127.0.0.1 with generated credentials, and clients for it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.dvcqg import DvcqgSettings, StatusMapping
from adapters.dvcqg.seed import SAMPLE_AGENCY_CODE, SAMPLE_PROCEDURE_CODE
from adapters.dvcqg.simulator import DvcqgSimulator, SimulatorConfig
from lgsp.testing.servers import RunningServer, start_server

EXAMPLE_MAPPING = Path(__file__).parents[2] / "adapters" / "dvcqg" / "status_mapping.example.yaml"


class FakeClock:
    """A monotonic clock the test moves by hand, so session expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Portal:
    """A running simulator: its URL, its in-process state and the credentials it accepts."""

    server: RunningServer
    sim: DvcqgSimulator
    username: str
    password: str

    @property
    def url(self) -> str:
        return self.server.url

    def settings(self, **overrides: Any) -> DvcqgSettings:
        values: dict[str, Any] = {
            "adapter_url": self.url,
            "username": self.username,
            "password": self.password,
            "madonvi": SAMPLE_AGENCY_CODE,
        }
        values.update(overrides)
        return DvcqgSettings(**values)


@pytest.fixture
def start_portal() -> Iterator[Callable[..., Portal]]:
    """Factory: start a simulator with extra config; every one started is stopped at teardown."""
    started: list[RunningServer] = []

    def start(**config: Any) -> Portal:
        username = "lgsp-" + secrets.token_hex(4)
        password = secrets.token_urlsafe(16)
        sim = DvcqgSimulator(SimulatorConfig(username=username, password=password, **config))
        server = start_server(sim.app)
        started.append(server)
        return Portal(server, sim, username, password)

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def _shared_portal() -> Iterator[Portal]:
    username = "lgsp-" + secrets.token_hex(4)
    password = secrets.token_urlsafe(16)
    sim = DvcqgSimulator(SimulatorConfig(username=username, password=password))
    server = start_server(sim.app)
    yield Portal(server, sim, username, password)
    server.stop()


@pytest.fixture
def portal(_shared_portal: Portal) -> Portal:
    """The module's simulator, emptied before each test."""
    _shared_portal.sim.reset()
    return _shared_portal


@pytest.fixture
def mapping() -> StatusMapping:
    return StatusMapping.from_file(EXAMPLE_MAPPING)


def dossier(**overrides: Any) -> dict[str, Any]:
    """A complete, valid DongBoHoSoMC record."""
    record: dict[str, Any] = {
        "MaHoSo": "000.00.12.H10-250131-0001",
        "MaTTHC": SAMPLE_PROCEDURE_CODE,
        "TenTTHC": "Đăng ký khai sinh (mẫu)",
        "MaLinhVuc": "G09-TP03",
        "TenLinhVuc": "Hộ tịch",
        "ChuHoSo": "Nguyễn Văn A",
        "LoaiDoiTuong": "1",
        "TrichYeuHoSo": "Đăng ký khai sinh cho con",
        "NgayTiepNhan": "20250131080000",
        "NgayHenTra": "20250205170000",
        "TrangThaiHoSo": "2",
        "HinhThuc": "0",
        "DonViXuLy": "UBND phường Cái Khế",
    }
    record.update(overrides)
    return record


def progress(**overrides: Any) -> dict[str, Any]:
    """A complete, valid CapNhatTienDoHoSoMC record."""
    record: dict[str, Any] = {
        "MaHoSo": "000.00.12.H10-250131-0001",
        "NguoiXuLy": "Trần Thị B",
        "ThoiDiemXuLy": "20250131090000",
        "NoiDungXuLy": "Tiếp nhận hồ sơ",
        "TrangThai": "2",
    }
    record.update(overrides)
    return record
