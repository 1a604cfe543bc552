"""Demo step: an official document (edXML) goes out through the national axis simulator and a status packet
("03 Đã tiếp nhận") comes back from the recipient agency."""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy import Engine

from lgsp.sdk.demo import DemoStep, Tour

from .client import AxisClient
from .demo_documents import demo_documents
from .poller import sync_directory
from .settings import VdxpSettings
from .simulator import create_simulator_app

SENDER = "000.00.12.H10"  # the city's agency (the demo's DMS client acts for it)
RECIPIENT = "000.00.00.G22"  # a national agency behind another system on the axis


def documents_step(tour: Tour) -> None:
    console, base, auth, engine = tour.console, tour.base_url, tour.auth, tour.engine
    console.rule("an official document out through the national axis, a status packet back (edXML)")
    lgsp_secret, peer_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    axis = tour.start(create_simulator_app({
        "systems": [{"system_id": "lgsp-cantho", "secret": lgsp_secret, "agencies": [SENDER]},
                    {"system_id": "vpcp-qlvb", "secret": peer_secret, "agencies": [RECIPIENT]}],
        "agencies": [{"code": SENDER, "name": "Ủy ban nhân dân thành phố Cần Thơ"},
                     {"code": RECIPIENT, "name": "Văn phòng Chính phủ"}],
    }))
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


#: After the NGSP step, before the dossier one (the tour's order since the demo began).
STEP = DemoStep(run=documents_step, order=20)
