"""Two real `lgsp serve --workers 2` nodes on one PostgreSQL database (four gateway processes) share one budget,
with counters in the store and in Redis; `lgsp usage` reads the same counters from an operator's shell."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import start_server
from tests.core.providers import provider_app
from tests.traffic.conftest import redis_url_or_skip, unique_key

LGSP = [sys.executable, "-m", "lgsp.cli"]
CITY = "000.00.12.H10"
CLIENT = f"{CITY}/MOTCUA"
SERVICE = f"{CITY}/PROV/registry"
BURST = 12


def lgsp(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([*LGSP, *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"lgsp {' '.join(args)}: {result.stdout}\n{result.stderr}"
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def provider_url() -> Iterator[str]:
    server = start_server(provider_app())
    yield server.url
    server.stop()


@pytest.mark.parametrize("counters", ["store", "redis"])
@pytest.mark.timeout(300)  # two nodes of two workers each; each start may take 90 s under load
def test_four_processes_on_two_nodes_admit_exactly_the_burst(counters: str, tmp_path: Path, provider_url: str) -> None:
    url = create_database("lgsp_t_traffic_nodes")
    env = {**os.environ, "LGSP_DATABASE_URL": url, "LGSP_TRAFFIC_BACKEND": counters, "LGSP_ACCESS_LOG": "false"}
    if counters == "redis":
        env["LGSP_REDIS_URL"] = redis_url_or_skip()
    # a service id of its own per run: Redis keeps counters between runs
    service = f"{SERVICE}{unique_key('x').rsplit(':', 1)[1]}"
    registry = tmp_path / "registry.yaml"
    registry.write_text(f"""
agencies: [{{code: {CITY}, name: Cần Thơ}}]
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: {CITY}/PROV, name: Provider, client: false, provider: true}}
services: [{{id: {service}, name: Registry, base_url: "{provider_url}"}}]
grants: [{{client: {CLIENT}, service: {service}}}]
limits: [{{service: {service}, client: "*", rate: 1/h, burst: {BURST}, quota: 1000, per: month}}]
""", encoding="utf-8")
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        lgsp(["apply", str(registry)], env)
        cred = json.loads(lgsp(["clients", "create", "--system", CLIENT, "--json"], env))
        ports = [free_port(), free_port()]
        for port in ports:
            nodes.append(subprocess.Popen([*LGSP, "serve", "--port", str(port), "--workers", "2"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base in bases:
            deadline = time.monotonic() + 90  # two workers start slowly on a loaded machine
            while True:
                try:
                    if httpx.get(base + "/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"{base} did not start"
                time.sleep(0.2)
        token = httpx.post(bases[0] + "/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(cred["client_id"], cred["client_secret"])).json()["access_token"]

        def call(n: int) -> int:
            with httpx.Client(timeout=30) as http:  # a new connection per call: spread over all workers
                return http.get(f"{bases[n % 2]}/services/{service}/n/{n}",
                                headers={"Authorization": f"Bearer {token}"}).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(call, range(120)))
        assert statuses.count(200) == BURST and statuses.count(429) == 120 - BURST, statuses
        rows = [json.loads(line) for line in lgsp(["usage", "--json", "--service", service], env).splitlines()]
        by_limit = {r["limit"]: r for r in rows}
        assert by_limit["client-rate"]["used"] == BURST and by_limit["client-rate"]["scope"] == CLIENT
        assert by_limit["client-month"]["used"] == BURST  # refused calls do not spend the quota
    finally:
        for node in nodes:
            os.killpg(node.pid, signal.SIGTERM)
        for node in nodes:
            node.wait(30)
        drop_database(url)
