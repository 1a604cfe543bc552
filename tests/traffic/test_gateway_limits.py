"""Limits as a client system meets them: through a real gateway, on SQLite and PostgreSQL, declared with
`lgsp apply`, changed through the admin API without a restart, refused calls audited and counted."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client import REGISTRY

from lgsp.app import LgspApp, create_app
from lgsp.auth.clients import IssuedCredential, create_client
from lgsp.settings import Settings
from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import RunningServer, start_server
from lgsp.traffic.policy import quota_window
from registry.declarative import RegistryFileError, apply, export, parse_registry_file
from tests.core.providers import provider_app

CITY = "000.00.12.H10"
DEPT = "000.00.31.H10"
CLIENT = f"{CITY}/MOTCUA"
OTHER = f"{CITY}/QLVB"
RATED = f"{DEPT}/PROV/rated"
DAILY = f"{DEPT}/PROV/daily"
SLOW = f"{DEPT}/PROV/fragile"
OPEN = f"{DEPT}/PROV/open"
HIDDEN = f"{DEPT}/PROV/hidden"
PROBLEM = "application/problem+json"


def registry_yaml(provider: str) -> str:
    services = "\n".join(f'  - {{id: {sid}, name: {sid.rsplit("/", 1)[1]}, base_url: "{provider}", '
                         f'retry_attempts: 0, timeout_seconds: 5}}' for sid in (RATED, DAILY, SLOW, OPEN, HIDDEN))
    grants = "\n".join(f"  - {{client: {c}, service: {s}}}"
                       for c in (CLIENT, OTHER) for s in (RATED, DAILY, SLOW, OPEN))
    return f"""
agencies:
  - {{code: {CITY}, name: UBND thành phố Cần Thơ}}
  - {{code: {DEPT}, name: Sở Tư pháp, parent: {CITY}}}
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: {OTHER}, name: Quản lý văn bản}}
  - {{id: {DEPT}/PROV, name: Provider, client: false, provider: true}}
services:
{services}
grants:
{grants}
  - {{client: {OTHER}, service: {HIDDEN}}}
limits:
  - {{service: {RATED}, client: "*", rate: 1/h, burst: 3}}
  - {{service: {DAILY}, quota: 2, per: day}}
  - {{service: {SLOW}, concurrency: 1}}
  - {{service: {HIDDEN}, client: {OTHER}, rate: 5}}
"""


@dataclass
class Stack:
    backend: str
    app: LgspApp
    gateway: RunningServer
    client: IssuedCredential
    other: IssuedCredential
    admin: IssuedCredential
    auditor: IssuedCredential
    http: httpx.Client
    url: str

    def token(self, cred: IssuedCredential) -> str:
        response = self.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                  auth=(cred.client_id, cred.client_secret))
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def auth(self, cred: IssuedCredential | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(cred or self.client)}"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    backend = str(request.param)
    tmp = tmp_path_factory.mktemp(f"traffic-{backend}")
    url = f"sqlite:///{tmp / 'lgsp.db'}" if backend == "sqlite" else create_database("lgsp_t_traffic_gw")
    provider = start_server(provider_app())
    settings = Settings.load(database_url=url, registry_refresh_seconds=0.2, access_log=False, traffic_backend="store")
    app = create_app(settings)
    engine = app.runtime.engine
    apply(engine, parse_registry_file(registry_yaml(provider.url)))
    creds = (create_client(engine, CLIENT, ["gateway"]), create_client(engine, OTHER, ["gateway"]),
             create_client(engine, None, ["admin"]), create_client(engine, None, ["auditor"]))
    app.runtime.registry_changed()
    gateway = start_server(app)
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        yield Stack(backend, app, gateway, *creds, http=http, url=url)
    gateway.stop()
    provider.stop()
    engine.dispose()
    if backend == "postgresql":
        drop_database(url)


def items(header: str) -> dict[str, dict[str, str]]:
    """Parse `"name";k=v;k=v, ...` (the structured-field lists of the RateLimit headers)."""
    parsed = {}
    for item in header.split(","):
        name, *params = item.strip().split(";")
        parsed[name.strip('"')] = dict(p.split("=", 1) for p in params)
    return parsed


def test_rate_limit_refuses_after_the_burst_with_headers_and_audit(stack: Stack) -> None:
    auth = stack.auth()
    remaining = []
    for n in range(3):
        response = stack.http.get(f"/services/{RATED}/echo/{n}", headers=auth)
        assert response.status_code == 200, response.text
        assert items(response.headers["ratelimit-policy"]) == {"client-rate": {"q": "3", "w": "10800"}}
        remaining.append(items(response.headers["ratelimit"])["client-rate"]["r"])
    assert remaining == ["2", "1", "0"]
    refused = stack.http.get(f"/services/{RATED}/echo/4", headers=auth)
    assert refused.status_code == 429 and refused.headers["content-type"] == PROBLEM
    body = refused.json()
    assert body["type"] == "https://lgsp.dev/problems/rate-limited" and body["limit"] == "client-rate"
    retry = int(refused.headers["retry-after"])
    assert 3500 <= retry <= 3600  # one call an hour
    assert items(refused.headers["ratelimit"])["client-rate"]["r"] == "0"
    # the refusal is in the audit log like any other exchange
    entries = stack.http.get("/audit/entries", params={"message_id": refused.headers["x-lgsp-message-id"]},
                             headers=stack.auth(stack.auditor)).json()["entries"]
    assert len(entries) == 1 and entries[0]["status"] == 429
    assert entries[0]["problem_type"] == "https://lgsp.dev/problems/rate-limited"
    assert REGISTRY.get_sample_value("lgsp_traffic_refused_total",
                                     {"service": RATED, "limit": "client-rate"}) >= 1
    # "*" gives each client system its own counters
    assert stack.http.get(f"/services/{RATED}/echo/5", headers=stack.auth(stack.other)).status_code == 200


def test_shared_quota_counts_every_caller_and_resets_at_vietnam_midnight(stack: Stack) -> None:
    assert stack.http.get(f"/services/{DAILY}/echo/1", headers=stack.auth()).status_code == 200
    second = stack.http.get(f"/services/{DAILY}/echo/2", headers=stack.auth(stack.other))
    assert second.status_code == 200
    assert items(second.headers["ratelimit"])["service-day"]["r"] == "0"
    refused = stack.http.get(f"/services/{DAILY}/echo/3", headers=stack.auth())
    assert refused.status_code == 429 and refused.json()["type"].endswith("/quota-exceeded")
    _, end = quota_window("day", time.time())
    assert abs(int(refused.headers["retry-after"]) - (end - time.time())) <= 5


def test_concurrency_limit_protects_a_fragile_provider(stack: Stack) -> None:
    auth = stack.auth()
    first: dict[str, int] = {}

    def slow_call() -> None:
        first["status"] = stack.http.get(f"/services/{SLOW}/slow", params={"s": "1.5"}, headers=auth).status_code

    thread = threading.Thread(target=slow_call)
    thread.start()
    time.sleep(0.5)
    busy = stack.http.get(f"/services/{SLOW}/echo/x", headers=auth)
    assert busy.status_code == 503 and busy.json()["type"].endswith("/concurrency-limited")
    assert int(busy.headers["retry-after"]) >= 1
    thread.join()
    assert first["status"] == 200
    assert stack.http.get(f"/services/{SLOW}/echo/x", headers=auth).status_code == 200  # the slot came back


def test_a_limit_change_takes_effect_without_restart(stack: Stack) -> None:
    auth, admin = stack.auth(), stack.auth(stack.admin)
    assert "ratelimit-policy" not in stack.http.get(f"/services/{OPEN}/echo/1", headers=auth).headers
    put = stack.http.put("/admin/limits", json={"service": OPEN, "client": CLIENT, "rate": "1/h", "burst": 1},
                         headers=admin)
    assert put.status_code == 200, put.text
    assert stack.http.get(f"/services/{OPEN}/echo/2", headers=auth).status_code == 200
    assert stack.http.get(f"/services/{OPEN}/echo/3", headers=auth).status_code == 429
    bad = stack.http.put("/admin/limits", json={"service": OPEN, "quota": 5}, headers=admin)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM and "per" in bad.json()["detail"]
    gone = stack.http.delete("/admin/limits", params={"service": OPEN, "client": CLIENT}, headers=admin)
    assert gone.status_code == 204
    again = stack.http.get(f"/services/{OPEN}/echo/4", headers=auth)
    assert again.status_code == 200 and "ratelimit" not in again.headers
    assert stack.http.get("/admin/limits", headers=auth).status_code == 403


OUT_OF_RANGE = [
    {"rate": 1, "burst": 2**70}, {"quota": 2**70, "per": "day"}, {"concurrency": 2**70},
    {"quota": 3_000_000_000, "per": "day"}, {"concurrency": 3_000_000_000},  # past PostgreSQL's INTEGER
    {"rate": 1e-300}, {"rate": "1/h", "burst": 3_000_000_000}, {"rate": 1e308}, {"rate": 0.0},
]


@pytest.mark.parametrize("entry", OUT_OF_RANGE, ids=[str(e) for e in OUT_OF_RANGE])
def test_limits_out_of_range_are_refused_not_a_500(stack: Stack, entry: dict[str, object]) -> None:
    """Before: a count past 2**63 answered 500 (SQLite OverflowError), one past 2**31 was stored on SQLite and
    answered 500 on PostgreSQL, and a rate of 1e-300 was accepted (its Redis key expiry overflowed, so Redis
    refused the script and the route ran unlimited)."""
    put = stack.http.put("/admin/limits", json={"service": OPEN, "client": "*", **entry},
                         headers=stack.auth(stack.admin))
    assert put.status_code == 422, put.text
    assert put.headers["content-type"] == PROBLEM
    with pytest.raises(RegistryFileError):
        parse_registry_file(registry_yaml("http://127.0.0.1:1") + f"  - {{service: {OPEN}, "
                            + ", ".join(f"{k}: {v}" for k, v in entry.items()) + "}\n")


def test_a_change_made_by_another_process_is_picked_up(stack: Stack) -> None:
    """`lgsp apply` from an operator's shell writes the store; the gateway notices within its refresh time."""
    auth = stack.auth(stack.other)
    assert stack.http.get(f"/services/{OPEN}/echo/a", headers=auth).status_code == 200
    text = export(stack.app.runtime.engine).replace(
        "limits:\n", f"limits:\n- service: {OPEN}\n  client: {OTHER}\n  quota: 1\n  per: hour\n")
    apply(stack.app.runtime.engine, parse_registry_file(text))  # no registry_changed(): like another process
    deadline = time.monotonic() + 5
    status = 200
    while time.monotonic() < deadline and status == 200:
        status = stack.http.get(f"/services/{OPEN}/echo/b", headers=auth).status_code
        time.sleep(0.1)
    assert status == 429


def test_usage_shows_a_client_its_own_limits(stack: Stack) -> None:
    body = stack.http.get("/usage", headers=stack.auth()).json()
    assert body["system"] == CLIENT and body["backend"] == "store"
    by_service = {(i["service"], i["limit"]): i for i in body["limits"]}
    assert HIDDEN not in {service for service, _ in by_service}  # no grant: none of its business
    daily = by_service[(DAILY, "service-day")]
    assert daily["shared"] and daily["quota"] == 2 and daily["used"] == 2 and daily["remaining"] == 0
    assert 0 < daily["resets_in_seconds"] <= 86400
    rated = by_service[(RATED, "client-rate")]
    assert rated["quota"] == 3 and rated["remaining"] == 0 and not rated["shared"]
    assert stack.http.get("/usage").status_code == 401


def test_limits_round_trip_through_registry_files(stack: Stack) -> None:
    text = export(stack.app.runtime.engine)
    assert "limits:" in text and f"service: {DAILY}" in text and "per: day" in text
    assert apply(stack.app.runtime.engine, parse_registry_file(text)) == []  # export -> apply changes nothing
    changed = text.replace("burst: 3", "burst: 4")
    plan = apply(stack.app.runtime.engine, parse_registry_file(changed), dry_run=True)
    assert [c.render() for c in plan] == [f"~ limit {RATED} for each client\n    burst: 3 -> 4"]
    with pytest.raises(RegistryFileError, match=r"limits\[0\]"):
        parse_registry_file(f"limits:\n  - {{service: {RATED}, rate: fast}}\n")
    with pytest.raises(RegistryFileError, match="listed twice"):
        parse_registry_file(f"limits:\n  - {{service: {RATED}, rate: 1}}\n"
                            f"  - {{service: {RATED}, quota: 1, per: day}}\n")


def test_two_nodes_on_one_database_never_admit_more_than_the_limit(stack: Stack) -> None:
    """A second gateway on the same store (its own runtime, pools and caches) shares the budget."""
    engine = stack.app.runtime.engine
    text = export(engine).replace("limits:\n", f"limits:\n- service: {OPEN}\n  rate: 1/h\n  burst: 10\n")
    text = re.sub(rf"- service: {re.escape(OPEN)}\n  client: [^\n]+\n  quota: 1\n  per: hour\n", "", text)
    apply(engine, parse_registry_file(text))
    stack.app.runtime.registry_changed()
    second = create_app(Settings.load(database_url=stack.url, access_log=False, traffic_backend="store"))
    node2 = start_server(second)
    try:
        tokens = [stack.token(stack.client), stack.token(stack.other)]

        def call(n: int) -> int:
            base = stack.gateway.url if n % 2 else node2.url
            return httpx.get(f"{base}/services/{OPEN}/echo/{n}", timeout=30,
                             headers={"Authorization": f"Bearer {tokens[n % 2]}"}).status_code

        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(call, range(60)))
    finally:
        node2.stop()
        second.runtime.engine.dispose()
    assert statuses.count(200) == 10 and statuses.count(429) == 50
