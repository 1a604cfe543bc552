"""A real document-exchange stack per backend: the axis simulator, the lgsp gateway (SQLite file or a fresh
PostgreSQL database) and DMS clients of two agencies. Module-scoped; each test builds its own packets
with unique DocumentIds, so tests do not see each other's documents by accident."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from adapters.vdxp.client import AxisClient
from adapters.vdxp.edxml import (
    Attachment,
    Business,
    Code,
    DocumentPacket,
    DocumentType,
    MessageHeader,
    Organization,
    PromulgationInfo,
    StatusCode,
    StatusPacket,
    StatusResponseFor,
    TraceHeader,
    TraceHeaderList,
    new_content_id,
)
from adapters.vdxp.handler import SEND_KIND, AxisSendHandler, make_client
from adapters.vdxp.poller import ReceivingPoller, sync_directory
from adapters.vdxp.settings import VdxpSettings
from adapters.vdxp.simulator import AxisState, create_simulator_app
from adapters.vdxp.simulator_config import Faults
from lgsp.app import LgspApp, create_app
from lgsp.auth.clients import IssuedCredential, create_client
from lgsp.delivery.claims import open_count
from lgsp.delivery.handlers import HandlerRegistry
from lgsp.delivery.models import OutboxMessage
from lgsp.delivery.settings import DeliverySettings
from lgsp.delivery.worker import DeliveryWorker
from lgsp.settings import Settings
from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import RunningServer, start_server
from registry.declarative import apply, parse_registry_file

SENDER = "000.00.12.H10"  # a Cần Thơ department (lgsp acts for it on the axis)
OTHER = "000.00.02.H10"  # another Cần Thơ department
PEER = "000.00.00.G22"  # a national agency behind another system on the axis
STRANGER = "000.00.99.H10"  # a valid code that is not in the directory
FAST = DeliverySettings(max_attempts=5, lease_seconds=30, backoff_base_seconds=0.01, backoff_max_seconds=0.05,
                        poll_seconds=0.05)

REGISTRY = f"""
agencies:
  - {{code: {SENDER}, name: Sở Thông tin và Truyền thông}}
  - {{code: {OTHER}, name: Sở Nội vụ}}
systems:
  - {{id: {SENDER}/QLVB, name: Quản lý văn bản STTTT}}
  - {{id: {OTHER}/QLVB, name: Quản lý văn bản SNV}}
object_grants:  # reading and sending an agency's documents is a grant like any other
  - {{client: {SENDER}/QLVB, objects: documents, agency: {SENDER}}}
  - {{client: {OTHER}/QLVB, objects: documents, agency: {OTHER}}}
"""


def simulator_config(lgsp_secret: str, peer_secret: str) -> dict[str, Any]:
    return {
        "systems": [
            {"system_id": "lgsp-cantho", "secret": lgsp_secret, "agencies": [SENDER, OTHER]},
            {"system_id": "vpcp-qlvb", "secret": peer_secret, "agencies": [PEER]},
        ],
        "agencies": [
            {"code": SENDER, "name": "Sở Thông tin và Truyền thông Cần Thơ"},
            {"code": OTHER, "name": "Sở Nội vụ Cần Thơ"},
            {"code": PEER, "name": "Văn phòng Chính phủ"},
        ],
        "max_clock_skew_s": 300,
    }


def unique_number() -> str:
    return str(secrets.randbelow(10**9))


def document(sender: str = SENDER, recipients: tuple[str, ...] = (PEER,), number: str | None = None,
             attachments: list[Attachment] | None = None, business: Business | None = None,
             padding: int = 0) -> DocumentPacket:
    number = number or unique_number()
    day = date(2026, 11, 26)
    header = MessageHeader(
        from_=Organization(sender, organ_name="Sở Thông tin và Truyền thông thành phố Cần Thơ"),
        to=[Organization(code, organ_name=f"Cơ quan {code}") for code in recipients],
        document_id=f"{sender},2026/11/26,{number}/STTTT-VP", code=Code(number, "STTTT-VP"),
        promulgation_info=PromulgationInfo(day, "Cần Thơ"), document_type=DocumentType(1, 1, "Công văn"),
        subject="V/v liên thông văn bản điện tử", content="Nội dung" + " thử nghiệm" * padding)
    files = attachments if attachments is not None else [
        Attachment(new_content_id(), "congvan.pdf", b"%PDF-1.7 test\n" * 40, "application/pdf", "Công văn")]
    trace = TraceHeaderList([TraceHeader(sender, datetime(2026, 11, 26, 8, 30))], business or Business())
    return DocumentPacket(header, trace, files)


def status(about: DocumentPacket, code: StatusCode = StatusCode.ACCEPTED, sender: str = PEER,
           when: datetime | None = None) -> StatusPacket:
    header = about.header
    return StatusPacket(
        from_=Organization(sender, organ_name="Văn phòng Chính phủ"),
        response_for=StatusResponseFor(header.from_.organ_id, str(header.code), header.document_id,
                                       header.promulgation_info.promulgation_date),
        status_code=code, timestamp=when or datetime(2026, 11, 26, 9, 0, 0), description=code.label)


@dataclass
class Stack:
    backend: str
    url: str
    app: LgspApp
    gateway: RunningServer
    axis_server: RunningServer
    axis: AxisState
    vdxp: VdxpSettings
    peer_secret: str
    dms: IssuedCredential  # SENDER/QLVB
    other: IssuedCredential  # OTHER/QLVB
    http: httpx.Client
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        return self.app.runtime.engine

    def token(self, cred: IssuedCredential | None = None) -> str:
        """A token per client, reused for a minute (tokens live five)."""
        cred = cred or self.dms
        cached = self.tokens.get(cred.client_id)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        reply = self.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(cred.client_id, cred.client_secret))
        assert reply.status_code == 200, reply.text
        token = str(reply.json()["access_token"])
        self.tokens[cred.client_id] = (token, time.monotonic() + 60)
        return token

    def auth(self, cred: IssuedCredential | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(cred)}", **extra}

    def post_xml(self, data: bytes, kind: str | None = "edoc", cred: IssuedCredential | None = None,
                 **headers: str) -> httpx.Response:
        params = {"kind": kind} if kind else {}
        return self.http.post("/documents", content=data, params=params,
                              headers=self.auth(cred, **{"Content-Type": "application/xml", **headers}))

    def outbox_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(OutboxMessage)) or 0)

    def peer(self) -> AxisClient:
        return AxisClient(self.axis_server.url, "vpcp-qlvb", self.peer_secret)

    def deliver_all(self, settings: DeliverySettings = FAST) -> None:
        async def run() -> None:
            handlers = HandlerRegistry({SEND_KIND: AxisSendHandler(make_client(self.vdxp))})
            try:
                await DeliveryWorker(self.engine, handlers, settings).run_until(
                    lambda: open_count(self.engine, [SEND_KIND]) == 0, 30)
            finally:
                await handlers.aclose()

        asyncio.run(run())

    def poll(self, parse_attempts: int = 3, hook: Any = None) -> Any:
        async def run() -> Any:
            client = make_client(self.vdxp)
            try:
                return await ReceivingPoller(self.engine, client, self.vdxp.agencies, parse_attempts=parse_attempts,
                                             signature_hook=hook).run_once()
            finally:
                await client.aclose()

        return asyncio.run(run())

    def sync_directory(self) -> int:
        async def run() -> int:
            client = make_client(self.vdxp)
            try:
                return await sync_directory(self.engine, client)
            finally:
                await client.aclose()

        return asyncio.run(run())

    def peer_send(self, data: bytes) -> str:
        async def run() -> str:
            async with self.peer() as peer:
                return await peer.send_edoc(data)

        return asyncio.run(run())


def database_url(backend: str, tmp: Any) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'lgsp.db'}"
    return create_database("lgsp_t_docs")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    backend = str(request.param)
    url = database_url(backend, tmp_path_factory.mktemp(f"docs-{backend}"))
    lgsp_secret, peer_secret = secrets.token_hex(16), secrets.token_hex(16)
    sim = create_simulator_app(simulator_config(lgsp_secret, peer_secret))
    axis_server = start_server(sim)
    vdxp = VdxpSettings(axis_server.url, "lgsp-cantho", lgsp_secret, (SENDER, OTHER), timeout=10)
    app = create_app(Settings.load(database_url=url, access_log=False, registry_refresh_seconds=0.2))
    app.api.state.documents_signature_hook = None
    apply(app.runtime.engine, parse_registry_file(REGISTRY))
    engine = app.runtime.engine
    creds = (create_client(engine, f"{SENDER}/QLVB", ["gateway"]), create_client(engine, f"{OTHER}/QLVB", ["gateway"]))
    app.runtime.registry_changed()
    gateway = start_server(app)
    with httpx.Client(base_url=gateway.url, timeout=60) as http:
        result = Stack(backend, url, app, gateway, axis_server, sim.state.axis, vdxp, peer_secret, *creds, http=http)
        assert result.sync_directory() == 3
        yield result
    gateway.stop()
    axis_server.stop()
    engine.dispose()
    if backend == "postgresql":
        drop_database(url)


@pytest.fixture
def docs(stack: Stack) -> Iterator[Stack]:
    """The module's stack with a fault-free simulator and no directory surprises."""
    stack.axis.faults = Faults()
    stack.app.api.state.documents_signature_hook = None
    yield stack
    stack.axis.faults = Faults()
    stack.app.api.state.documents_signature_hook = None
