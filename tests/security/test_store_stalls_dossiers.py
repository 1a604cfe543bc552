"""The DVCQG dossier-event intake and its delivery behind a lock someone holds on the store (see
test_store_stalls_writers.py): ``POST /dossiers/events`` used to hang with the lock on PostgreSQL (and 500 after
30 s on SQLite); now it is a 503 ``store-unavailable`` within the bound, nothing is queued, and the retry is queued
and delivered once the lock goes.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from structlog.testing import capture_logs

from adapters.dvcqg import DvcqgSettings, StatusMapping
from adapters.dvcqg import delivery as dvcqg
from adapters.dvcqg.simulator import DvcqgSimulator, SimulatorConfig
from lgsp.app import create_app
from lgsp.auth.clients import create_client
from lgsp.delivery.claims import open_count
from lgsp.delivery.models import OutboxMessage
from lgsp.settings import Settings
from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import start_server
from registry.declarative import apply, parse_registry_file
from tests.dvcqg_flow.conftest import CITY, MAPPING_FILE, MOTCUA, REGISTRY, Flow, dossier_code, event
from tests.security.stall import CLIENT_TIMEOUT, WAIT, assert_store_unavailable, count, locked, tracebacks


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def flow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    """The dossier flow of tests/dvcqg_flow, its gateway bounded to WAIT seconds of lock wait."""
    backend = str(request.param)
    url = (f"sqlite:///{tmp_path_factory.mktemp('stall-dvcqg') / 'lgsp.db'}" if backend == "sqlite"
           else create_database("lgsp_t_stall_dvcqg"))
    username, password = "lgsp-" + secrets.token_hex(4), secrets.token_urlsafe(16)
    sim = DvcqgSimulator(SimulatorConfig(username=username, password=password, madonvi=CITY))
    portal = start_server(sim.app)
    config = dvcqg.DvcqgConfig(
        DvcqgSettings(adapter_url=portal.url, username=username, password=password, madonvi=CITY, timeout=5),
        StatusMapping.from_file(MAPPING_FILE))
    app = create_app(Settings.load(database_url=url, access_log=False, registry_refresh_seconds=0.2,
                                   store_lock_timeout_seconds=WAIT, audit_write_timeout_seconds=WAIT))
    app.api.state.dvcqg_checker = dvcqg.make_checker(config)
    apply(app.runtime.engine, parse_registry_file(REGISTRY))
    client = create_client(app.runtime.engine, MOTCUA, ["gateway"])
    app.runtime.registry_changed()
    gateway = start_server(app)
    with httpx.Client(base_url=gateway.url, timeout=CLIENT_TIMEOUT) as http:
        yield Flow(backend, url, app, gateway, portal, sim, config, client, http)
    gateway.stop()
    portal.stop()
    app.runtime.engine.dispose()
    if backend == "postgresql":
        drop_database(url)


def test_a_dossier_event_refused_behind_a_lock_is_not_queued_and_its_retry_is_delivered(flow: Flow) -> None:
    body = event(dossier_code())
    token = flow.token()
    queued = count(flow.engine, OutboxMessage)
    with capture_logs() as logs, locked(flow.engine, "outbox"):
        refused = flow.http.post("/dossiers/events", json=body, headers={"Authorization": f"Bearer {token}"})
    assert_store_unavailable(refused)
    assert not tracebacks(logs), logs
    assert count(flow.engine, OutboxMessage) == queued  # nothing queued: the caller knows to send it again
    accepted = flow.post_event(body)
    assert accepted.status_code == 202, accepted.text
    assert count(flow.engine, OutboxMessage) == queued + 1
    asyncio.run(flow.deliver_all())
    assert open_count(flow.engine) == 0


def test_concurrent_events_behind_a_lock_are_all_answered_503_within_about_one_bound(flow: Flow) -> None:
    """Each event is a write transaction of its own: they queue for the write lock one after another, and each
    used to wait its own bound after the others' (eight callers: eight bounds for the last)."""
    headers = {"Authorization": f"Bearer {flow.token()}"}
    code = dossier_code()
    assert flow.post_event(event(code)).status_code == 202  # the dossier is claimed: the events go to the outbox
    bodies = [event(code, "processing") for _ in range(8)]
    queued = count(flow.engine, OutboxMessage)
    with locked(flow.engine, "outbox"), ThreadPoolExecutor(len(bodies)) as pool:
        started = time.monotonic()
        answers = list(pool.map(lambda b: flow.http.post("/dossiers/events", json=b, headers=headers), bodies))
        took = time.monotonic() - started
    for answer in answers:
        assert_store_unavailable(answer)
    assert count(flow.engine, OutboxMessage) == queued
    assert took < 5 * WAIT, f"eight callers waited {took:.1f} s for a bound of {WAIT} s"
