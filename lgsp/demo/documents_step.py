"""Demo step: an official document (edXML) goes out through the national axis simulator and a status packet
("03 Đã tiếp nhận") comes back from the recipient agency."""

from __future__ import annotations

import asyncio
import secrets

from rich.console import Console
from sqlalchemy import Engine

from adapters.vdxp.client import AxisClient
from adapters.vdxp.demo import demo_documents
from adapters.vdxp.poller import sync_directory
from adapters.vdxp.settings import VdxpSettings
from adapters.vdxp.simulator import create_simulator_app
from lgsp.testing.servers import RunningServer, start_server

SENDER = "000.00.12.H10"  # the city's agency (the demo's DMS client acts for it)
RECIPIENT = "000.00.00.G22"  # a national agency behind another system on the axis

#: Servers this step started; the demo stops them with everything else.
started: list[RunningServer] = []


def documents_step(console: Console, base: str, auth: dict[str, str], engine: Engine) -> None:
    console.rule("an official document out through the national axis, a status packet back (edXML)")
    lgsp_secret, peer_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    axis = start_server(create_simulator_app({
        "systems": [{"system_id": "lgsp-cantho", "secret": lgsp_secret, "agencies": [SENDER]},
                    {"system_id": "vpcp-qlvb", "secret": peer_secret, "agencies": [RECIPIENT]}],
        "agencies": [{"code": SENDER, "name": "Ủy ban nhân dân thành phố Cần Thơ"},
                     {"code": RECIPIENT, "name": "Văn phòng Chính phủ"}],
    }))
    started.append(axis)
    console.print(f"national document axis simulator on {axis.url} (HMAC-signed REST, edXML packets)")
    vdxp = VdxpSettings(axis.url, "lgsp-cantho", lgsp_secret, (SENDER,), timeout=10)
    asyncio.run(_sync_directory(engine, vdxp))
    token = auth["Authorization"].split(" ", 1)[1]
    final = demo_documents(base, token, axis_url=axis.url, peer_system_id="vpcp-qlvb", peer_secret=peer_secret,
                           sender=SENDER, recipient=RECIPIENT, engine=engine, vdxp=vdxp,
                           say=lambda line: console.print("   " + line, highlight=False), timeout=30)
    console.print(f"GET /documents/{{id}}: delivery {final['delivery_state']}, axis doc id {final['axis_doc_id']}, "
                  f"statuses {[(s['from'], s['status_code']) for s in final['statuses']]}", highlight=False)


async def _sync_directory(engine: Engine, vdxp: VdxpSettings) -> None:
    async with AxisClient(vdxp.url, vdxp.system_id, vdxp.secret, timeout=vdxp.timeout) as client:
        await sync_directory(engine, client)
