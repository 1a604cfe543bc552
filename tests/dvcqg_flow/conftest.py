"""The whole DVCQG dossier path on real servers: lgsp gateway (SQLite or PostgreSQL) + DVCQG simulator.

Module-scoped per backend; each test uses its own dossier codes and a fresh delivery worker (its
DVCQG client lives on the test's event loop).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from adapters.dvcqg import DvcqgSettings, StatusMapping
from adapters.dvcqg import delivery as dvcqg
from adapters.dvcqg.seed import SAMPLE_AGENCY_CODE, SAMPLE_PROCEDURE_CODE
from adapters.dvcqg.simulator import DvcqgSimulator, SimulatorConfig
from lgsp.app import LgspApp, create_app
from lgsp.auth.clients import IssuedCredential, create_client
from lgsp.delivery.claims import open_count
from lgsp.delivery.handlers import HandlerRegistry
from lgsp.delivery.settings import DeliverySettings
from lgsp.delivery.worker import DeliveryWorker
from lgsp.settings import Settings
from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import RunningServer, start_server
from registry.declarative import apply, parse_registry_file

CITY = SAMPLE_AGENCY_CODE
MOTCUA = f"{CITY}/MOTCUA"
MAPPING_FILE = Path(__file__).parents[2] / "adapters" / "dvcqg" / "status_mapping.example.yaml"
FAST = DeliverySettings(max_attempts=20, lease_seconds=30, backoff_base_seconds=0.01, backoff_max_seconds=0.05,
                        poll_seconds=0.05)
REGISTRY = f"""
agencies:
  - {{code: {CITY}, name: UBND thành phố Cần Thơ}}
systems:
  - {{id: {MOTCUA}, name: Một cửa điện tử}}
"""


@dataclass
class Flow:
    backend: str
    url: str
    app: LgspApp
    gateway: RunningServer
    portal: RunningServer
    sim: DvcqgSimulator
    config: dvcqg.DvcqgConfig
    client: IssuedCredential
    http: httpx.Client

    @property
    def engine(self) -> Engine:
        return self.app.runtime.engine

    def token(self) -> str:
        reply = self.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(self.client.client_id, self.client.client_secret))
        assert reply.status_code == 200, reply.text
        return str(reply.json()["access_token"])

    def post_event(self, event: Any, key: str | None = None, **headers: str) -> httpx.Response:
        sent = {"Authorization": f"Bearer {self.token()}", **headers}
        if key is not None:
            sent["Idempotency-Key"] = key
        if isinstance(event, bytes):
            return self.http.post("/dossiers/events", content=event,
                                  headers={"Content-Type": "application/json", **sent})
        return self.http.post("/dossiers/events", json=event, headers=sent)

    def worker(self) -> tuple[DeliveryWorker, HandlerRegistry]:
        handlers = HandlerRegistry({dvcqg.KIND: dvcqg.make_handler(self.engine, self.config)})
        return DeliveryWorker(self.engine, handlers, FAST), handlers

    async def deliver_all(self) -> None:
        worker, handlers = self.worker()
        try:
            await worker.run_until(lambda: open_count(self.engine) == 0)
        finally:
            await handlers.aclose()


def dossier_code() -> str:
    return f"{CITY}-251126-{secrets.randbelow(10**6):06d}"


def event(code: str, status: str = "receiving", **dossier: Any) -> dict[str, Any]:
    """A valid one-stop-shop event (TenTTHC etc. left out: lgsp fills them from LayThuTuc)."""
    record = {"MaHoSo": code, "MaTTHC": SAMPLE_PROCEDURE_CODE, "ChuHoSo": "Lê Văn C", "LoaiDoiTuong": "1",
              "TrichYeuHoSo": "Đăng ký khai sinh", "NgayTiepNhan": "20251126080000",
              "NgayHenTra": "20251201170000", "HinhThuc": "0", "DonViXuLy": "UBND phường An Hòa"}
    record.update(dossier)
    return {"local_status": status, "occurred_at": "20251126081500", "dossier": record,
            "progress": {"NguoiXuLy": "Phạm Thị D", "NoiDungXuLy": "Tiếp nhận hồ sơ"}}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def flow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    backend = str(request.param)
    url = (f"sqlite:///{tmp_path_factory.mktemp('flow') / 'lgsp.db'}" if backend == "sqlite"
           else create_database("lgsp_t_dvcqg"))
    username, password = "lgsp-" + secrets.token_hex(4), secrets.token_urlsafe(16)
    sim = DvcqgSimulator(SimulatorConfig(username=username, password=password, madonvi=CITY))
    portal = start_server(sim.app)
    config = dvcqg.DvcqgConfig(
        DvcqgSettings(adapter_url=portal.url, username=username, password=password, madonvi=CITY, timeout=5),
        StatusMapping.from_file(MAPPING_FILE))
    app = create_app(Settings.load(database_url=url, access_log=False, registry_refresh_seconds=0.2))
    app.api.state.dvcqg_checker = dvcqg.make_checker(config)
    apply(app.runtime.engine, parse_registry_file(REGISTRY))
    client = create_client(app.runtime.engine, MOTCUA, ["gateway"])
    app.runtime.registry_changed()
    gateway = start_server(app)
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        yield Flow(backend, url, app, gateway, portal, sim, config, client, http)
    gateway.stop()
    portal.stop()
    app.runtime.engine.dispose()
    if backend == "postgresql":
        drop_database(url)


@pytest.fixture
async def drained(flow: Flow) -> AsyncIterator[Flow]:
    """The flow with an empty outbox queue at start (earlier tests may leave dead letters, never open ones)."""
    flow.sim.clear_faults()
    yield flow
