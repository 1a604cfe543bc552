"""Demo step: a one-stop-shop dossier event synchronised to the DVCQG portal simulator through the outbox."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from pathlib import Path
from typing import Any

from lgsp.sdk.demo import DemoStep, Tour

from .client import DvcqgClient, DvcqgSettings
from .seed import SAMPLE_AGENCY_CODE, SAMPLE_PROCEDURE_CODE
from .simulator import DvcqgSimulator, SimulatorConfig

MAPPING = Path(__file__).resolve().parent / "status_mapping.example.yaml"


def configure_portal(tour: Tour) -> DvcqgSettings:
    """Start the DVCQG simulator with fresh credentials and point lgsp's LGSP_DVCQG_* settings at it."""
    username, password = "lgsp-demo-" + secrets.token_hex(3), secrets.token_urlsafe(16)
    portal = tour.start(DvcqgSimulator(SimulatorConfig(username=username, password=password,
                                                       madonvi=SAMPLE_AGENCY_CODE)).app)
    os.environ.update({"LGSP_DVCQG_ADAPTER_URL": portal.url, "LGSP_DVCQG_USERNAME": username,
                       "LGSP_DVCQG_PASSWORD": password, "LGSP_DVCQG_MADONVI": SAMPLE_AGENCY_CODE,
                       "LGSP_DVCQG_STATUS_MAPPING": str(MAPPING)})
    return DvcqgSettings(adapter_url=portal.url, username=username, password=password, madonvi=SAMPLE_AGENCY_CODE,
                         timeout=5)


def dvcqg_step(tour: Tour) -> None:
    console, base, auth = tour.console, tour.base_url, tour.auth
    console.rule("a dossier event synchronised to the National Public Service Portal (DVCQG simulator)")
    portal = configure_portal(tour)
    code = f"{SAMPLE_AGENCY_CODE}-251126-{secrets.randbelow(10**6):06d}"
    event = {"local_status": "receiving", "occurred_at": "20251126081500",
             "dossier": {"MaHoSo": code, "MaTTHC": SAMPLE_PROCEDURE_CODE, "ChuHoSo": "Lê Văn C",
                         "LoaiDoiTuong": "1", "TrichYeuHoSo": "Đăng ký khai sinh", "NgayTiepNhan": "20251126080000",
                         "NgayHenTra": "20251201170000", "HinhThuc": "0", "DonViXuLy": "UBND phường An Hòa"},
             "progress": {"NguoiXuLy": "Phạm Thị D", "NoiDungXuLy": "Tiếp nhận hồ sơ"}}
    status, _, body = tour.http("POST", base + "/dossiers/events",
                                data=json.dumps(event, ensure_ascii=False).encode(),
                                headers={**auth, "Content-Type": "application/json", "Idempotency-Key": code})
    console.print(f"POST /dossiers/events (local status 'receiving', dossier {code})\n"
                  f"      {status} {json.dumps(body, ensure_ascii=False)[:160]}", highlight=False)
    tour.deliver()
    looked_up = asyncio.run(_look_up(portal, code))
    console.print(f"the outbox worker pushed it; TraCuuHoSo on the portal now says: "
                  f"{json.dumps(looked_up, ensure_ascii=False)[:200]}", highlight=False)


async def _look_up(settings: DvcqgSettings, code: str) -> Any:
    client = DvcqgClient(settings)
    try:
        return await client.tra_cuu_ho_so(code)
    finally:
        await client.aclose()


#: Last of the adapters' steps (the tour's order since the demo began); open data follows.
STEP = DemoStep(run=dvcqg_step, order=30)
