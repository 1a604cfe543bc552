"""Demo step: a one-stop-shop dossier event synchronised to the DVCQG portal simulator through the outbox."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import Engine

from adapters.dvcqg import DvcqgClient, DvcqgSettings
from adapters.dvcqg.seed import SAMPLE_AGENCY_CODE, SAMPLE_PROCEDURE_CODE
from adapters.dvcqg.simulator import DvcqgSimulator, SimulatorConfig
from lgsp.delivery.claims import open_count
from lgsp.delivery.handlers import load_handlers
from lgsp.delivery.settings import DeliverySettings
from lgsp.delivery.worker import DeliveryWorker
from lgsp.testing.servers import RunningServer, start_server

MAPPING = Path(__file__).resolve().parents[2] / "adapters" / "dvcqg" / "status_mapping.example.yaml"

#: Servers this step started; the demo stops them with everything else.
started: list[RunningServer] = []


def configure_portal() -> DvcqgSettings:
    """Start the DVCQG simulator with fresh credentials and point lgsp's LGSP_DVCQG_* settings at it."""
    username, password = "lgsp-demo-" + secrets.token_hex(3), secrets.token_urlsafe(16)
    portal = start_server(DvcqgSimulator(SimulatorConfig(username=username, password=password,
                                                         madonvi=SAMPLE_AGENCY_CODE)).app)
    started.append(portal)
    os.environ.update({"LGSP_DVCQG_ADAPTER_URL": portal.url, "LGSP_DVCQG_USERNAME": username,
                       "LGSP_DVCQG_PASSWORD": password, "LGSP_DVCQG_MADONVI": SAMPLE_AGENCY_CODE,
                       "LGSP_DVCQG_STATUS_MAPPING": str(MAPPING)})
    return DvcqgSettings(adapter_url=portal.url, username=username, password=password, madonvi=SAMPLE_AGENCY_CODE,
                         timeout=5)


def dvcqg_step(console: Console, base: str, auth: dict[str, str], engine: Engine) -> None:
    from lgsp.demo.runner import http

    console.rule("a dossier event synchronised to the National Public Service Portal (DVCQG simulator)")
    portal = configure_portal()
    code = f"{SAMPLE_AGENCY_CODE}-251126-{secrets.randbelow(10**6):06d}"
    event = {"local_status": "receiving", "occurred_at": "20251126081500",
             "dossier": {"MaHoSo": code, "MaTTHC": SAMPLE_PROCEDURE_CODE, "ChuHoSo": "Lê Văn C",
                         "LoaiDoiTuong": "1", "TrichYeuHoSo": "Đăng ký khai sinh", "NgayTiepNhan": "20251126080000",
                         "NgayHenTra": "20251201170000", "HinhThuc": "0", "DonViXuLy": "UBND phường An Hòa"},
             "progress": {"NguoiXuLy": "Phạm Thị D", "NoiDungXuLy": "Tiếp nhận hồ sơ"}}
    status, _, body = http("POST", base + "/dossiers/events", data=json.dumps(event, ensure_ascii=False).encode(),
                           headers={**auth, "Content-Type": "application/json", "Idempotency-Key": code})
    console.print(f"POST /dossiers/events (local status 'receiving', dossier {code})\n"
                  f"      {status} {json.dumps(body, ensure_ascii=False)[:160]}", highlight=False)
    asyncio.run(_deliver(engine))
    looked_up = asyncio.run(_look_up(portal, code))
    console.print(f"the outbox worker pushed it; TraCuuHoSo on the portal now says: "
                  f"{json.dumps(looked_up, ensure_ascii=False)[:200]}", highlight=False)


async def _deliver(engine: Engine) -> None:
    handlers = load_handlers(engine)
    try:
        worker = DeliveryWorker(engine, handlers, DeliverySettings(poll_seconds=0.05, backoff_base_seconds=0.05,
                                                                   backoff_max_seconds=0.5))
        await worker.run_until(lambda: open_count(engine) == 0, limit_seconds=30)
    finally:
        await handlers.aclose()


async def _look_up(settings: DvcqgSettings, code: str) -> Any:
    client = DvcqgClient(settings)
    try:
        return await client.tra_cuu_ho_so(code)
    finally:
        await client.aclose()
