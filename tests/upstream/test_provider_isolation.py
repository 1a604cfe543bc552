"""One provider that stops answering must not take the other services down with it (a bulkhead).

Before, the upstream pool was shared with no share per provider: calls piling up on a silent provider took
every connection, and a call to a healthy service waited for a free one until the silent provider's timeouts
fired (here 30 s). Now a provider holds at most its share (``LGSP_UPSTREAM_POOL_PER_PROVIDER``, default a
quarter of the pool) and the others' calls go straight through.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from lgsp.app import create_app
from lgsp.auth.clients import create_client
from lgsp.gateway.upstream import per_provider_limit
from lgsp.settings import Settings
from lgsp.testing.servers import RunningServer, start_server
from registry.declarative import apply, parse_registry_file
from tests.upstream.hostile import HostileServer, fixed, reply, silent

CITY, DEPT = "000.00.12.H10", "000.00.31.H10"
CLIENT = f"{CITY}/MOTCUA"
SILENT, QUICK = f"{DEPT}/PROV/silent", f"{DEPT}/PROV/quick"
POOL, SHARE = 8, 4


@dataclass
class Stack:
    gateway: RunningServer
    token: str
    silent: HostileServer

    def call(self, service: str, timeout: float) -> int:
        response = httpx.get(f"{self.gateway.url}/services/{service}/x", timeout=timeout,
                             headers={"Authorization": f"Bearer {self.token}"})
        return response.status_code


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    silent_provider = HostileServer({"silent": silent(60)})  # two servers: two providers (host:port)
    quick_provider = HostileServer({"quick": fixed(reply("200 OK", [("Content-Length", "2")], b"ok"))})
    settings = Settings.load(database_url=f"sqlite:///{tmp_path / 'g.db'}", access_log=False,
                             upstream_pool_size=POOL, upstream_pool_per_provider=SHARE)
    app = create_app(settings)
    apply(app.runtime.engine, parse_registry_file(f"""
agencies:
  - {{code: {CITY}, name: UBND Cần Thơ}}
  - {{code: {DEPT}, name: Sở Tư pháp, parent: {CITY}}}
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: {DEPT}/PROV, name: Provider, client: false, provider: true}}
services:
  - {{id: {SILENT}, name: silent, base_url: "{silent_provider.url}/silent", timeout_seconds: 30, retry_attempts: 0}}
  - {{id: {QUICK}, name: quick, base_url: "{quick_provider.url}/quick", timeout_seconds: 5, retry_attempts: 0}}
grants:
  - {{client: {CLIENT}, service: {SILENT}}}
  - {{client: {CLIENT}, service: {QUICK}}}
"""))
    cred = create_client(app.runtime.engine, CLIENT, ["gateway"])
    app.runtime.registry_changed()
    gateway = start_server(app)
    token = httpx.post(f"{gateway.url}/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(cred.client_id, cred.client_secret)).json()["access_token"]
    yield Stack(gateway, token, silent_provider)
    silent_provider.stop()  # the calls still waiting on it end (502/504) before the gateway stops
    quick_provider.stop()
    gateway.stop()
    app.runtime.engine.dispose()


def test_a_silent_provider_does_not_starve_the_other_services(stack: Stack) -> None:
    with ThreadPoolExecutor(POOL) as pool:
        stuck = [pool.submit(stack.call, SILENT, 90) for _ in range(POOL)]  # as many as the whole pool
        deadline = time.monotonic() + 30
        while stack.silent.seen["silent"] < SHARE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stack.silent.seen["silent"] == SHARE
        # the silent provider's calls would hold their connections for 30 s; this one must not wait for them
        assert stack.call(QUICK, timeout=15) == 200
        assert stack.call(QUICK, timeout=15) == 200
        assert stack.silent.seen["silent"] == SHARE  # the rest of its calls queue for its own share only
        stack.silent.stop()
        assert {future.result() for future in stuck} <= {502, 504}


@pytest.mark.parametrize(("pool", "per_provider", "share"), [
    (512, 0, 128), (8, 0, 2), (3, 0, 1), (1, 0, 1), (0, 0, 1), (8, 4, 4), (8, 100, 8), (8, -1, 2),
])
def test_the_share_of_the_pool(pool: int, per_provider: int, share: int) -> None:
    assert per_provider_limit(pool, per_provider) == share
