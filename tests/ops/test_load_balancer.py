"""Two `lgsp serve` nodes (real processes) on one PostgreSQL database behind HAProxy (issue 17.6).

A burst of gateway calls and `POST /documents` goes through HAProxy; mid-burst node A and its worker are
SIGKILLed (a machine dying). What must hold, wherever the kill lands:

* every call acknowledged to the client (2xx) is in the audit log exactly once (matched by
  X-LGSP-Message-Id); a call that was not acknowledged is in it at most once;
* every document acknowledged with 202 is delivered to the axis by the survivor's worker;
* calls that HAProxy sent to the dead node before its health check noticed were redispatched to the
  survivor (connection refused = the request never reached a node, so retrying is safe for any method).

No sleeps stand in for synchronisation: the test waits for HAProxy's health states, for counts of
acknowledged calls, and for the outbox to drain. To make "calls reach the dead node" certain rather
than lucky, node A's health check is paused (HAProxy's admin socket) from just before the kill until
some calls have gone through, then resumed, and the test waits for HAProxy to mark A DOWN.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from adapters.vdxp.edxml import write_document
from adapters.vdxp.handler import SEND_KIND, make_client
from adapters.vdxp.poller import sync_directory
from adapters.vdxp.settings import VdxpSettings
from adapters.vdxp.simulator import create_simulator_app
from lgsp.audit.verify import verify_chain
from lgsp.auth.clients import create_client
from lgsp.delivery.claims import open_count
from lgsp.delivery.models import OutboxMessage
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import start_server
from registry.declarative import apply, parse_registry_file
from tests.core.providers import provider_app
from tests.documents.conftest import OTHER, SENDER, document, simulator_config
from tests.ops.haproxy import HAProxy, free_port, start_haproxy

ROOT = Path(__file__).parents[2]
LGSP = [sys.executable, "-m", "lgsp.cli"]
DEPT = "000.00.31.H10"
DMS = f"{SENDER}/QLVB"
ECHO = f"{DEPT}/PROV/echo"
CALLS = 160  # every 4th one a document
KILL_AFTER = 50  # acknowledged calls before node A dies
WHILE_UNNOTICED = 30  # acknowledged calls while HAProxy still thinks A is up


def registry(provider: str) -> str:
    return f"""
agencies:
  - {{code: {SENDER}, name: Sở Thông tin và Truyền thông}}
  - {{code: {OTHER}, name: Sở Nội vụ}}
  - {{code: {DEPT}, name: Sở Tư pháp}}
systems:
  - {{id: {DMS}, name: Quản lý văn bản STTTT}}
  - {{id: {DEPT}/PROV, name: Provider, client: false, provider: true}}
services:
  - {{id: {ECHO}, name: Echo, base_url: "{provider}", timeout_seconds: 5, retry_attempts: 0}}
grants:
  - {{client: {DMS}, service: {ECHO}, methods: [GET]}}
object_grants:
  - {{client: {DMS}, objects: documents, agency: {SENDER}}}
"""


#: Each call on a connection of its own, so that each is the first of its HAProxy session. On a kept-alive
#: client connection HAProxy may send a later request over an idle connection to A that died with it; it
#: then closes the client's connection unanswered (its "safe" reuse leaves that retry to the client, as
#: browsers do for idempotent requests), and one such call more than the 8 in flight failed, one run in ~20.
ONE_REQUEST_PER_CONNECTION = {"Connection": "close"}


def haproxy_config(port: int, nodes: dict[str, int]) -> str:
    servers = "\n".join(f"    server {name} 127.0.0.1:{p}" for name, p in nodes.items())
    return f"""
global
    stats socket {{admin}} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout http-request 10s
    timeout server 60s
    retries 3
    retry-on conn-failure
    option redispatch 1
frontend api
    bind 127.0.0.1:{port}
    option forwardfor
    default_backend lgsp
backend lgsp
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    # a killed node refuses connections at once (fall 2 at 300 ms finds it); a slow /readyz on a loaded
    # machine must not, so the check's own timeout is long
    timeout check 10s
    default-server check inter 300ms fall 2 rise 1
    http-response set-header X-Served-By %[srv_name]
{servers}
"""


@dataclass
class Outcome:
    kind: str  # "call" | "document"
    message_id: str | None
    status: int  # 0 = transport error
    served_by: str | None
    document_id: str | None = None


@dataclass
class Node:
    name: str
    port: int
    serve: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]

    def kill(self) -> None:
        for proc in (self.serve, self.worker):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(20)

    def stop(self) -> None:
        for proc in (self.serve, self.worker):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)


def start_node(name: str, env: dict[str, str], tmp: Path) -> Node:
    port = free_port()
    with open(tmp / f"serve-{name}.log", "wb") as log:
        serve = subprocess.Popen([*LGSP, "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    with open(tmp / f"worker-{name}.log", "wb") as log:
        worker = subprocess.Popen([*LGSP, "worker"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    return Node(name, port, serve, worker)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # polling a state


def audit_counts(base: str, token: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    after = -1
    while True:
        page = httpx.get(base + "/audit/entries", params={"after": after, "limit": 1000},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        counts.update(e["message_id"] for e in page["entries"])
        if page["next_after"] is None:
            return counts
        after = page["next_after"]


def stat(proxy: HAProxy, backend: str, server: str, column: str) -> int:
    lines = proxy.command("show stat").splitlines()
    header = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("pxname") == backend and row.get("svname") == server:
            return int(row.get(column) or 0)
    raise AssertionError(f"no {backend}/{server} in haproxy stats")


@pytest.mark.slow
def test_two_nodes_behind_haproxy_lose_nothing(tmp_path: Path) -> None:
    url = create_database("lgsp_t_lb")
    provider = start_server(provider_app())
    lgsp_secret, peer_secret = secrets.token_hex(16), secrets.token_hex(16)
    simulator = create_simulator_app(simulator_config(lgsp_secret, peer_secret))
    axis_server = start_server(simulator)
    axis = simulator.state.axis
    vdxp = VdxpSettings(axis_server.url, "lgsp-cantho", lgsp_secret, (SENDER, OTHER), timeout=10)
    engine = make_engine(url)
    nodes: list[Node] = []
    proxy: HAProxy | None = None
    try:
        upgrade(engine)
        apply(engine, parse_registry_file(registry(provider.url)))
        dms = create_client(engine, DMS, ["gateway"])
        auditor = create_client(engine, None, ["auditor"])

        async def directory() -> int:
            client = make_client(vdxp)
            try:
                return await sync_directory(engine, client)
            finally:
                await client.aclose()

        assert asyncio.run(directory()) == 3
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LGSP_DVCQG_", "LGSP_VDXP_"))}
        env.update(LGSP_DATABASE_URL=url, LGSP_VDXP_URL=axis_server.url, LGSP_VDXP_SYSTEM_ID="lgsp-cantho",
                   LGSP_VDXP_SECRET=lgsp_secret, LGSP_VDXP_AGENCIES=f"{SENDER},{OTHER}", LGSP_VDXP_TIMEOUT="5",
                   LGSP_DELIVERY_LEASE_SECONDS="3", LGSP_DELIVERY_POLL_SECONDS="0.05",
                   LGSP_DELIVERY_BACKOFF_BASE_SECONDS="0.05", LGSP_DELIVERY_BACKOFF_MAX_SECONDS="0.5",
                   LGSP_DELIVERY_MAX_ATTEMPTS="1000", LGSP_VDXP_POLL_SECONDS="3600",
                   LGSP_VDXP_DIRECTORY_SECONDS="3600", PYTHONUNBUFFERED="1")
        nodes = [start_node("a", env, tmp_path), start_node("b", env, tmp_path)]
        port = free_port()
        proxy = start_haproxy(haproxy_config(port, {n.name: n.port for n in nodes}), tmp_path)
        proxy.wait_for("lgsp", {"a": "UP", "b": "UP"}, timeout=120)  # /readyz answers on both
        base = f"http://127.0.0.1:{port}"
        reply = httpx.post(base + "/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(dms.client_id, dms.client_secret), timeout=30)
        assert reply.status_code == 200, reply.text
        auth = {"Authorization": f"Bearer {reply.json()['access_token']}"}

        outcomes: list[Outcome] = []
        lock = threading.Lock()
        killed_at: list[int] = []  # index into outcomes when A died
        enough_before, enough_after = threading.Event(), threading.Event()

        def acknowledged() -> int:
            return sum(1 for o in outcomes if 200 <= o.status < 300)

        def one(n: int, http: httpx.Client) -> None:
            if n % 4 == 3:
                packet = document()
                try:
                    r = http.post(base + "/documents", params={"kind": "edoc"}, content=write_document(packet),
                                  headers={**auth, "Content-Type": "application/xml",
                                           "Idempotency-Key": f"lb-{n}", **ONE_REQUEST_PER_CONNECTION})
                    outcome = Outcome("document", r.headers.get("x-lgsp-message-id"), r.status_code,
                                      r.headers.get("x-served-by"), packet.header.document_id)
                except httpx.TransportError:
                    outcome = Outcome("document", None, 0, None, packet.header.document_id)
            else:
                message_id = str(uuid.uuid4())
                try:
                    r = http.get(f"{base}/services/{ECHO}/n/{n}", headers={**auth, "X-LGSP-Message-Id": message_id,
                                                                                 **ONE_REQUEST_PER_CONNECTION})
                    outcome = Outcome("call", message_id, r.status_code, r.headers.get("x-served-by"))
                except httpx.TransportError:
                    outcome = Outcome("call", message_id, 0, None)
            with lock:
                outcomes.append(outcome)
                count = acknowledged()
                if count >= KILL_AFTER:
                    enough_before.set()
                if killed_at and count >= KILL_AFTER + WHILE_UNNOTICED:
                    enough_after.set()

        with httpx.Client(timeout=60) as http, ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(one, n, http) for n in range(CALLS)]
            assert enough_before.wait(180), "the burst never got going"
            proxy.command("disable health lgsp/a")  # HAProxy keeps believing A is up ...
            nodes[0].kill()  # ... while the machine is gone
            with lock:
                killed_at.append(len(outcomes))
            assert enough_after.wait(180), "calls stopped after the kill"
            proxy.command("enable health lgsp/a")
            proxy.wait_for("lgsp", {"a": "DOWN", "b": "UP"})
            for future in futures:
                future.result()

        acked = [o for o in outcomes if 200 <= o.status < 300]
        failed = [o for o in outcomes if not 200 <= o.status < 300]
        before, after = outcomes[:killed_at[0]], outcomes[killed_at[0] + 8:]  # 8 = calls in flight at the kill
        assert {o.served_by for o in before if o.served_by} == {"a", "b"}  # both nodes served
        assert {o.served_by for o in after if o.served_by} == {"b"}
        redispatched = stat(proxy, "lgsp", "a", "wredis")
        assert redispatched > 0  # calls sent to the dead node went to the survivor instead
        assert all(o.status in (0, 502, 503, 504) for o in failed), Counter(o.status for o in failed)
        assert len(failed) <= 8  # only calls in flight on A when it died may fail
        assert all(o.message_id for o in acked)

        # the survivor's worker delivers every accepted document (node A's claims expire with their lease)
        wait_until(lambda: open_count(engine, [SEND_KIND]) == 0, 120, "the outbox to drain")
        atoken = httpx.post(base + "/oauth/token", data={"grant_type": "client_credentials"},
                            auth=(auditor.client_id, auditor.client_secret), timeout=30).json()["access_token"]
        counts = audit_counts(base, atoken)
        for o in acked:
            assert counts[o.message_id or ""] == 1, (o, counts[o.message_id or ""])
        for o in failed:
            assert o.message_id is None or counts[o.message_id] <= 1
        documents = {o.message_id: o.document_id for o in acked if o.kind == "document"}
        with engine.connect() as conn:
            states = dict(conn.execute(select(OutboxMessage.message_id, OutboxMessage.state)
                                       .where(OutboxMessage.message_id.in_(list(documents)))).all())
        assert states == dict.fromkeys(documents, "delivered")
        sent = Counter(s["documentId"] for s in axis.snapshot()["sent"])
        assert all(sent[document_id] >= 1 for document_id in documents.values())
        report: dict[str, Any] = {"calls": len(outcomes), "acknowledged": len(acked), "failed": len(failed),
                                  "redispatched": redispatched, "documents": len(documents),
                                  "documents_sent_twice": sum(1 for d in documents.values() if sent[d] > 1)}
        print(f"load balancer test: {report}")
        assert verify_chain(engine).ok
    finally:
        if proxy is not None:
            proxy.stop()
        for node in nodes:
            node.stop()
        engine.dispose()
        axis_server.stop()
        provider.stop()
        drop_database(url)
