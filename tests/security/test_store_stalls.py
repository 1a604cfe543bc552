"""A store that does not take the audit entry in time: the caller gets a 503, never a hang or a 500.

Someone holding a lock the audit writer needs (on PostgreSQL an insider's or a migration's ``LOCK TABLE``, on
SQLite any other writing connection) used to hang every gateway call with it: for ever on PostgreSQL, and on
SQLite for the 30 s busy timeout twice over (the failed exchange's own entry waited again) before a 500 with
two tracebacks. Now the writer's statements give up after ``LGSP_AUDIT_WRITE_TIMEOUT_SECONDS``, nothing of the
entry is committed, and the caller is told ``503 audit-unavailable`` with a ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from lgsp.app import LgspApp, create_app
from lgsp.audit.verify import verify_chain
from lgsp.auth.clients import create_client
from lgsp.testing.postgres import drop_database
from lgsp.testing.servers import RunningServer, start_server
from registry.declarative import apply, parse_registry_file
from tests.security.conftest import CLIENT, SMALL, database_url, registry_yaml, settings_for
from tests.security.providers import RecordingProvider

WAIT = 1.0


@dataclass
class Gateway:
    backend: str
    app: LgspApp
    server: RunningServer
    http: httpx.Client


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Gateway]:
    backend = str(request.param)
    url = database_url(backend, tmp_path)
    provider = start_server(RecordingProvider())
    app = create_app(settings_for(url, audit_write_timeout_seconds=WAIT))
    apply(app.runtime.engine, parse_registry_file(registry_yaml(provider.url, provider.url)))
    cred = create_client(app.runtime.engine, CLIENT, ["gateway"])
    app.runtime.registry_changed()
    server = start_server(app)
    with httpx.Client(base_url=server.url, timeout=30) as http:  # well above WAIT: running into it is the defect
        token = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(cred.client_id, cred.client_secret)).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield Gateway(backend, app, server, http)
    server.stop()
    provider.stop()
    app.runtime.engine.dispose()
    if backend == "postgresql":
        drop_database(url)


def _entries(gateway: Gateway) -> int:
    with gateway.app.runtime.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_entries")).scalar_one())


def test_a_locked_audit_table_is_a_503_and_nothing_is_logged_for_it(gateway: Gateway) -> None:
    assert gateway.http.get(f"/services/{SMALL}/upload").status_code == 200
    before = _entries(gateway)
    holder = gateway.app.runtime.engine.connect()
    holder.begin()
    if gateway.backend == "postgresql":
        holder.execute(text("LOCK TABLE audit_entries IN ACCESS EXCLUSIVE MODE"))
    else:  # SQLite: any write transaction holds the database's one write lock
        holder.execute(text("DELETE FROM audit_entries WHERE 1 = 0"))
    try:
        with capture_logs() as logs:
            response = gateway.http.get(f"/services/{SMALL}/upload")
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "https://lgsp.dev/problems/audit-unavailable"
        assert int(response.headers["retry-after"]) >= 1
        assert "x-lgsp-audit-index" not in response.headers
        refusals = [e for e in logs if e["event"] == "audit store unavailable; call refused"]
        assert len(refusals) == 1 and refusals[0]["log_level"] == "error"  # one line: no second wait
        assert not [e for e in logs if e.get("exc_info") or e["event"] in ("exchange failed", "audit write failed")]
    finally:
        holder.rollback()
        holder.close()
    assert gateway.http.get(f"/services/{SMALL}/upload").status_code == 200  # the writer carries on
    assert _entries(gateway) == before + 1  # the refused call left no entry claiming its 200
    assert verify_chain(gateway.app.runtime.engine).ok
