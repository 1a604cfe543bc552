"""Someone holds a lock on the store (an insider's ``LOCK TABLE``, a long migration, another SQLite writer): every
writer other than the audit writer answers within a bound, and nothing is half-kept or lost.

Before, the writers on pooled connections had no bound: on PostgreSQL ``POST /documents``, the admin API and the
token endpoint hung for as long as the lock was held (for ever, for an insider who forgot his session), and the
delivery worker and the document poller stopped with them; on SQLite each waited out the 30 s busy timeout,
then the caller got a 500 with a traceback. Now each statement waits at most
``LGSP_STORE_LOCK_TIMEOUT_SECONDS``, the transaction rolls back whole, the caller gets ``503 store-unavailable``
with a ``Retry-After``, workers log one line and try again, and the next call after the lock goes succeeds.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from adapters.vdxp.edxml import write_document
from adapters.vdxp.handler import SEND_KIND, AxisSendHandler, make_client
from adapters.vdxp.poller import ReceivingPoller
from adapters.vdxp.settings import VdxpSettings
from adapters.vdxp.simulator import create_simulator_app
from lgsp.app import create_app
from lgsp.audit.models import AuditEntry
from lgsp.audit.verify import verify_chain
from lgsp.auth.clients import IssuedCredential, create_client
from lgsp.auth.models import OAuthClient
from lgsp.delivery.claims import Delivery, open_count
from lgsp.delivery.handlers import HandlerRegistry
from lgsp.delivery.models import DELIVERED, OutboxMessage
from lgsp.delivery.outbox import NewMessage, accept
from lgsp.delivery.worker import DeliveryWorker
from lgsp.documents.models import Document
from lgsp.settings import Settings
from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import start_server
from registry.declarative import apply, parse_registry_file
from tests.documents.conftest import FAST, OTHER, PEER, REGISTRY, SENDER, Stack, document, simulator_config
from tests.security.stall import CLIENT_TIMEOUT, WAIT, assert_store_unavailable, count, locked, tracebacks


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stalled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The document stack of tests/documents, its processes bounded to WAIT seconds of lock wait."""
    backend = str(request.param)
    url = (f"sqlite:///{tmp_path_factory.mktemp('stall') / 'lgsp.db'}" if backend == "sqlite"
           else create_database("lgsp_t_stall"))
    lgsp_secret, peer_secret = secrets.token_hex(16), secrets.token_hex(16)
    sim = create_simulator_app(simulator_config(lgsp_secret, peer_secret))
    axis_server = start_server(sim)
    vdxp = VdxpSettings(axis_server.url, "lgsp-cantho", lgsp_secret, (SENDER, OTHER), timeout=10)
    app = create_app(Settings.load(database_url=url, access_log=False, registry_refresh_seconds=0.2,
                                   store_lock_timeout_seconds=WAIT, audit_write_timeout_seconds=WAIT))
    app.api.state.documents_signature_hook = None
    apply(app.runtime.engine, parse_registry_file(REGISTRY))
    engine = app.runtime.engine
    creds = (create_client(engine, f"{SENDER}/QLVB", ["gateway"]), create_client(engine, f"{OTHER}/QLVB", ["gateway"]))
    app.runtime.registry_changed()
    gateway = start_server(app)
    with httpx.Client(base_url=gateway.url, timeout=CLIENT_TIMEOUT) as http:
        stack = Stack(backend, url, app, gateway, axis_server, sim.state.axis, vdxp, peer_secret, *creds, http=http)
        assert stack.sync_directory() == 3
        yield stack
    gateway.stop()
    axis_server.stop()
    engine.dispose()
    if backend == "postgresql":
        drop_database(url)


@pytest.fixture(scope="module")
def admin(stalled: Stack) -> IssuedCredential:
    return create_client(stalled.engine, None, ["admin"])


def test_a_document_refused_behind_a_lock_is_not_kept_and_the_same_post_then_is(stalled: Stack) -> None:
    packet = write_document(document())
    stalled.token()  # before the lock: the token endpoint reads the clients table
    documents, queued, entries = (count(stalled.engine, m) for m in (Document, OutboxMessage, AuditEntry))
    with capture_logs() as logs, locked(stalled.engine, "documents"):
        refused = stalled.post_xml(packet)
    assert_store_unavailable(refused)
    assert "x-lgsp-audit-index" not in refused.headers
    assert not tracebacks(logs), logs
    assert [e["log_level"] for e in logs if e["event"] == "store did not answer in time; request refused"] == ["error"]
    # nothing half-kept: no document row, no outbox message, no audit entry claiming a 202
    assert (count(stalled.engine, Document), count(stalled.engine, OutboxMessage),
            count(stalled.engine, AuditEntry)) == (documents, queued, entries)
    accepted = stalled.post_xml(packet)  # the lock is gone: the caller's retry goes through
    assert accepted.status_code == 202, accepted.text
    assert count(stalled.engine, Document) == documents + 1
    assert count(stalled.engine, OutboxMessage) == queued + 1
    assert verify_chain(stalled.engine).ok


def test_concurrent_documents_behind_a_lock_are_all_answered_within_about_one_bound(stalled: Stack) -> None:
    """Acceptances are group-committed, one savepoint each: on PostgreSQL each waited its own bound after the
    others' in the batch (the eighth caller eight bounds); the first wait that runs out now fails the rest."""
    stalled.token()
    packets = [write_document(document()) for _ in range(8)]
    documents = count(stalled.engine, Document)
    with locked(stalled.engine, "documents"), ThreadPoolExecutor(len(packets)) as pool:
        started = time.monotonic()
        answers = list(pool.map(stalled.post_xml, packets))
        took = time.monotonic() - started
    for answer in answers:
        assert_store_unavailable(answer)
    assert count(stalled.engine, Document) == documents
    assert took < 5 * WAIT, f"eight callers waited {took:.1f} s for a bound of {WAIT} s"


def test_an_admin_write_behind_a_lock_is_a_503_and_is_not_made(stalled: Stack, admin: IssuedCredential) -> None:
    headers = stalled.auth(admin)
    clients = count(stalled.engine, OAuthClient)
    body = {"system": None, "scopes": ["auditor"], "description": "made while locked"}
    with capture_logs() as logs, locked(stalled.engine, "oauth_clients"):
        refused = stalled.http.post("/admin/clients", json=body, headers=headers)
    assert_store_unavailable(refused)
    assert not tracebacks(logs), logs
    assert count(stalled.engine, OAuthClient) == clients
    made = stalled.http.post("/admin/clients", json=body, headers=headers)
    assert made.status_code == 201, made.text
    assert count(stalled.engine, OAuthClient) == clients + 1


def test_the_token_endpoint_behind_a_lock_answers_in_time(stalled: Stack) -> None:
    """It only reads (failures are throttled in memory): on SQLite a writer's lock does not stop WAL readers; on
    PostgreSQL an ACCESS EXCLUSIVE lock on the clients table does, and the bound makes that a 503."""
    form = {"grant_type": "client_credentials"}
    auth = (stalled.dms.client_id, stalled.dms.client_secret)
    with capture_logs() as logs, locked(stalled.engine, "oauth_clients"):
        answer = stalled.http.post("/oauth/token", data=form, auth=auth)
    if stalled.backend == "sqlite":
        assert answer.status_code == 200, answer.text
    else:
        assert_store_unavailable(answer)
    assert not tracebacks(logs), logs
    assert stalled.http.post("/oauth/token", data=form, auth=auth).status_code == 200


def test_the_delivery_worker_waits_out_a_lock_and_then_delivers(stalled: Stack) -> None:
    """Claims behind the lock fail within the bound (one line each, the worker goes on); a delivery in hand that
    ends behind the lock has its outcome written once the lock goes, not after its lease (sent once)."""
    assert stalled.post_xml(write_document(document())).status_code == 202
    gated = accept(stalled.engine, NewMessage(kind="test.gated", payload=b"{}")).message_id
    calls: list[str] = []

    async def run() -> tuple[list[dict[str, object]], bool]:
        started, gate = asyncio.Event(), asyncio.Event()

        async def held_back(delivery: Delivery) -> None:
            calls.append(delivery.message_id)
            started.set()
            await gate.wait()

        handlers = HandlerRegistry({SEND_KIND: AxisSendHandler(make_client(stalled.vdxp)), "test.gated": held_back})
        worker = DeliveryWorker(stalled.engine, handlers, FAST)
        stop = asyncio.Event()
        runner = asyncio.create_task(worker.run_forever(stop, poll_seconds=0.05))
        try:
            await asyncio.wait_for(started.wait(), 10)
            with capture_logs() as logs:
                with locked(stalled.engine, "outbox"):
                    gate.set()  # the gated delivery ends now: its outcome meets the lock
                    await asyncio.sleep(4 * WAIT)
                    alive = not runner.done()
                for _ in range(200):  # the lock is gone: the worker goes on by itself
                    if await asyncio.to_thread(open_count, stalled.engine, [SEND_KIND, "test.gated"]) == 0:
                        break
                    await asyncio.sleep(0.05)
            return logs, alive
        finally:
            stop.set()
            await runner
            await handlers.aclose()

    logs, alive = asyncio.run(run())
    assert alive, "the worker stopped while the lock was held"
    assert open_count(stalled.engine, [SEND_KIND]) == 0  # delivered once the lock went
    with Session(stalled.engine) as session:  # recorded after the lock, well before its 30 s lease
        assert session.scalar(select(OutboxMessage.state).where(OutboxMessage.message_id == gated)) == DELIVERED
    assert calls == [gated]  # sent once
    waits = [e for e in logs if str(e["event"]).startswith("store busy; ")]
    assert {e["event"] for e in waits} >= {"store busy; claiming again shortly",
                                          "store busy; recording the outcome again shortly"}, logs
    assert all(not e.get("exc_info") and e["log_level"] == "warning" for e in waits), logs
    assert not tracebacks(logs), logs


def test_the_poller_leaves_a_message_on_the_axis_behind_a_lock_and_stores_it_after(stalled: Stack) -> None:
    incoming = document(sender=PEER, recipients=(SENDER,))
    stalled.peer_send(write_document(incoming))
    documents = count(stalled.engine, Document)

    async def round_() -> object:
        client = make_client(stalled.vdxp)
        try:
            return await ReceivingPoller(stalled.engine, client, stalled.vdxp.agencies).run_once()
        finally:
            await client.aclose()

    with capture_logs() as logs, locked(stalled.engine, "documents"):
        report = asyncio.run(round_())
    assert report.stored == 0 and report.acknowledged == 0
    assert len(report.errors) == 1, (report, logs)  # it waits on the axis for the next round
    assert not tracebacks(logs), logs
    assert [e["log_level"] for e in logs if e["event"] == "store busy; the message stays on the axis"] == ["warning"]
    assert count(stalled.engine, Document) == documents
    report = asyncio.run(round_())  # next round, lock gone: stored and acknowledged
    assert report.stored == 1, report
    assert count(stalled.engine, Document) == documents + 1
