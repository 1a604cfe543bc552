"""Counters that cannot be reached or answer nonsense (a misbehaving Redis, a failing store) are "counters
unavailable": the gateway applies the documented fail rule (rates open, quotas closed) and never answers 500.

Before: a reply of the wrong shape raised IndexError/TypeError/ValueError out of the backend, so the gateway
answered 500 on every limited call and `GET /usage`, and a short array like ``[1]`` was taken as "admitted"
even on a quota route (fail-closed by the documentation). `GET /usage` also answered 500 when Redis was down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from lgsp.app import create_app
from lgsp.auth.clients import IssuedCredential, create_client
from lgsp.settings import Settings
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.servers import RunningServer, start_server
from lgsp.traffic.backends import BackendUnavailable, RedisBackend, StoreBackend
from lgsp.traffic.decision import QuotaCheck, RateCheck, SlotCheck
from registry.declarative import apply, parse_registry_file
from tests.core.providers import provider_app
from tests.traffic.fake_redis import CLOSE, _FakeRedis, fake_redis, url_of
from tests.traffic.test_gateway_limits import CLIENT, DAILY, PROBLEM, RATED, registry_yaml

REPLIES = {
    "simple string": b"+OK\r\n",
    "integer": b":5\r\n",
    "nil": b"$-1\r\n",
    "empty array": b"*0\r\n",
    "short array": b"*1\r\n:1\r\n",
    "strings": b"*5\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nz\r\n$1\r\nz\r\n$1\r\nz\r\n",
    "nested": b"*5\r\n*1\r\n:1\r\n:0\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n1\r\n",
    "refused by no check": b"*5\r\n:0\r\n:99\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n1\r\n",
    "nan counter": b"*5\r\n:1\r\n:0\r\n$3\r\nnan\r\n$1\r\n0\r\n$1\r\n0\r\n",
    "negative counter": b"*5\r\n:1\r\n:0\r\n$2\r\n-5\r\n$1\r\n0\r\n$1\r\n0\r\n",
    "closed": CLOSE,
}


@pytest.fixture(scope="module")
def server() -> Iterator[_FakeRedis]:
    with fake_redis() as running:
        yield running


@pytest.mark.parametrize("reply", REPLIES.values(), ids=REPLIES.keys())
def test_a_wrong_reply_is_counters_unavailable(server: _FakeRedis, reply: bytes) -> None:
    server.reply = reply
    now = time.time()
    checks = [RateCheck("k:r", "client-rate", 1.0, 1), QuotaCheck("k:q", "client-day", 10, 86400, now + 100),
              SlotCheck("k:s", "client-concurrency", 1, 30)]

    async def go() -> None:
        backend = RedisBackend(url_of(server), timeout_seconds=0.5)
        try:
            with pytest.raises(BackendUnavailable):
                await backend.admit(checks, now)
            if reply not in (REPLIES["integer"], REPLIES["nil"]):  # a number or nil is a valid GET answer
                with pytest.raises(BackendUnavailable):
                    await backend.peek(checks, now)
        finally:
            await backend.close()
    asyncio.run(go())


@dataclass
class Gateway:
    server: RunningServer
    client: IssuedCredential
    http: httpx.Client

    def auth(self) -> dict[str, str]:
        response = self.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                  auth=(self.client.client_id, self.client.client_secret))
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def gateway(server: _FakeRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("traffic-bad-redis")
    provider = start_server(provider_app())
    settings = Settings.load(database_url=f"sqlite:///{tmp / 'lgsp.db'}", access_log=False,
                             traffic_backend="redis", redis_url=url_of(server))
    app = create_app(settings)
    apply(app.runtime.engine, parse_registry_file(registry_yaml(provider.url)))
    client = create_client(app.runtime.engine, CLIENT, ["gateway"])
    app.runtime.registry_changed()
    running = start_server(app)
    with httpx.Client(base_url=running.url, timeout=30) as http:
        yield Gateway(running, client, http)
    running.stop()
    provider.stop()
    app.runtime.engine.dispose()


@pytest.mark.parametrize("reply", [REPLIES["short array"], REPLIES["strings"], CLOSE],
                         ids=["short array", "strings", "closed"])
def test_the_gateway_applies_its_fail_rule(gateway: Gateway, server: _FakeRedis, reply: bytes) -> None:
    server.reply = reply
    headers = gateway.auth()
    rated = gateway.http.get(f"/services/{RATED}/echo", headers=headers)
    assert rated.status_code == 200, rated.text  # LGSP_TRAFFIC_FAIL_OPEN_RATES=true by default
    daily = gateway.http.get(f"/services/{DAILY}/echo", headers=headers)
    assert daily.status_code == 503, daily.text  # LGSP_TRAFFIC_FAIL_OPEN_QUOTAS=false by default
    assert daily.headers["content-type"].startswith(PROBLEM)
    assert daily.json()["type"].endswith("limits-unavailable") and daily.headers["retry-after"] == "5"
    usage = gateway.http.get("/usage", headers=headers)
    assert usage.status_code == 503, usage.text
    assert usage.headers["content-type"].startswith(PROBLEM) and usage.headers["retry-after"] == "5"


def test_a_failing_store_is_counters_unavailable_for_every_operation(tmp_path: Path) -> None:
    """Before: only `admit` turned a database error into BackendUnavailable; `peek` (GET /usage) and `release`
    (the end of every call holding a concurrency slot) let the SQLAlchemy error through, as a 500."""
    engine = make_engine(f"sqlite:///{tmp_path / 'lgsp.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE traffic_counters"))
        conn.execute(text("DROP TABLE traffic_slots"))
    backend = StoreBackend(engine)
    checks = [RateCheck("k:r", "client-rate", 1.0, 1), SlotCheck("k:s", "client-concurrency", 1, 30)]

    async def go() -> None:
        for call in (backend.admit(checks, 1000.0), backend.peek(checks, 1000.0),
                     backend.release([("k:s", "token")])):
            with pytest.raises(BackendUnavailable):
                await call
    try:
        asyncio.run(go())
    finally:
        engine.dispose()
