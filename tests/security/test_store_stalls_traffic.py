"""Traffic counters in the SQL store (``traffic_backend = store``) behind a lock someone holds (see
test_store_stalls_writers.py): a gateway call on a route with a quota used to hang with the lock on PostgreSQL (and
wait SQLite's 30 s busy timeout); now the counter write gives up within the bound and the route's own rule decides
(a quota fails closed: ``503 limits-unavailable``; a rate fails open), and the next call after the lock is counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from lgsp.app import LgspApp, create_app
from lgsp.auth.clients import create_client
from lgsp.testing.postgres import drop_database
from lgsp.testing.servers import start_server
from registry.declarative import apply, parse_registry_file
from tests.security.conftest import CLIENT, OPEN, SMALL, database_url, registry_yaml, settings_for
from tests.security.providers import RecordingProvider
from tests.security.stall import CLIENT_TIMEOUT, WAIT, locked, tracebacks


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[httpx.Client, LgspApp]]:
    backend = str(request.param)
    url = database_url(backend, tmp_path)
    provider = start_server(RecordingProvider())
    app = create_app(settings_for(url, traffic_backend="store", store_lock_timeout_seconds=WAIT,
                                  audit_write_timeout_seconds=WAIT))
    limits = f"limits:\n  - {{service: {SMALL}, quota: 1000, per: day}}\n  - {{service: {OPEN}, rate: 1000}}\n"
    apply(app.runtime.engine, parse_registry_file(registry_yaml(provider.url, provider.url) + limits))
    cred = create_client(app.runtime.engine, CLIENT, ["gateway"])
    app.runtime.registry_changed()
    server = start_server(app)
    with httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT) as http:
        token = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(cred.client_id, cred.client_secret)).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield http, app
    server.stop()
    provider.stop()
    app.runtime.engine.dispose()
    if backend == "postgresql":
        drop_database(url)


def test_counters_behind_a_lock_are_decided_by_the_routes_rule_within_the_bound(
        gateway: tuple[httpx.Client, LgspApp]) -> None:
    http, app = gateway
    engine = app.runtime.engine
    assert http.get(f"/services/{SMALL}/upload").status_code == 200
    with capture_logs() as logs, locked(engine, "traffic_counters", "traffic_slots"):
        quota = http.get(f"/services/{SMALL}/upload")
        rate = http.get(f"/services/{OPEN}/anything")
    assert quota.status_code == 503, quota.text
    assert int(quota.headers["retry-after"]) >= 1
    if engine.dialect.name == "postgresql":
        assert quota.json()["type"] == "https://lgsp.dev/problems/limits-unavailable"
        assert rate.status_code == 200, rate.text  # a rate fails open (traffic_fail_open_rates)
    else:  # SQLite has one write lock for everything: the exchange's audit entry cannot be written either
        assert quota.json()["type"] == "https://lgsp.dev/problems/audit-unavailable"
        assert rate.status_code == 503 and rate.json()["type"] == "https://lgsp.dev/problems/audit-unavailable"
    assert not tracebacks(logs), logs
    assert http.get(f"/services/{SMALL}/upload").status_code == 200
    with engine.connect() as conn:  # the calls after the lock are counted again
        assert conn.execute(text("SELECT count(*) FROM traffic_counters")).scalar_one() >= 1
