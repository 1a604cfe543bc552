"""A real gateway stack per backend: store (SQLite file or a fresh PostgreSQL database), gateway server,
provider servers and clients with tokens. Module-scoped so each module pays the start-up once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from lgsp.app import LgspApp, create_app
from lgsp.auth.clients import IssuedCredential, create_client
from lgsp.settings import Settings
from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import RunningServer, start_server
from registry.declarative import apply, parse_registry_file
from tests.core.providers import HOP_BY_HOP_REPLY, RawServer, closed_port_url, provider_app

CITY = "000.00.12.H10"
DEPT = "000.00.31.H10"
CLIENT = f"{CITY}/MOTCUA"
OTHER = f"{CITY}/OTHER"
ECHO = f"{DEPT}/PROV/echo"


def registry_yaml(provider: str, garbage: str, down: str, breaker: str, raw: str) -> str:
    return f"""
agencies:
  - {{code: {CITY}, name: UBND thành phố Cần Thơ}}
  - {{code: {DEPT}, name: Sở Tư pháp, parent: {CITY}}}
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: {OTHER}, name: Hệ thống khác}}
  - {{id: {DEPT}/PROV, name: Provider, client: false, provider: true}}
services:
  - {{id: {ECHO}, name: Echo, base_url: "{provider}", timeout_seconds: 2, retry_attempts: 2,
      retry_backoff_seconds: 0.01, idempotent_methods: [GET, PUT]}}
  - {{id: {DEPT}/PROV/limited, name: Small bodies, base_url: "{provider}", max_body_bytes: 1000}}
  - {{id: {DEPT}/PROV/slow, name: Slow, base_url: "{provider}", timeout_seconds: 0.5, retry_attempts: 0}}
  - {{id: {DEPT}/PROV/down, name: Down, base_url: "{down}", timeout_seconds: 1, retry_attempts: 1,
      retry_backoff_seconds: 0.01}}
  - {{id: {DEPT}/PROV/breaker, name: Breaker, base_url: "{breaker}", timeout_seconds: 1, retry_attempts: 0}}
  - {{id: {DEPT}/PROV/garbage, name: Garbage, base_url: "{garbage}", timeout_seconds: 1, retry_attempts: 0}}
  - {{id: {DEPT}/PROV/raw, name: Raw HTTP, base_url: "{raw}", timeout_seconds: 1, retry_attempts: 0}}
grants:
  - {{client: {CLIENT}, service: {ECHO}, methods: [GET, POST, PUT, HEAD]}}
  - {{client: {CLIENT}, service: {ECHO}, methods: [DELETE], path: "items/*"}}
  - {{client: {CLIENT}, service: {DEPT}/PROV/limited}}
  - {{client: {CLIENT}, service: {DEPT}/PROV/slow}}
  - {{client: {CLIENT}, service: {DEPT}/PROV/down}}
  - {{client: {CLIENT}, service: {DEPT}/PROV/breaker}}
  - {{client: {CLIENT}, service: {DEPT}/PROV/garbage}}
  - {{client: {CLIENT}, service: {DEPT}/PROV/raw}}
"""


@dataclass
class Stack:
    backend: str
    app: LgspApp
    gateway: RunningServer
    provider: RunningServer
    client: IssuedCredential
    other: IssuedCredential
    admin: IssuedCredential
    auditor: IssuedCredential
    http: httpx.Client

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def engine(self) -> Engine:
        return self.app.runtime.engine

    def token(self, cred: IssuedCredential) -> str:
        response = self.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                  auth=(cred.client_id, cred.client_secret))
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def auth(self, cred: IssuedCredential | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(cred or self.client)}", **extra}

    def audit_by_message(self, message_id: str) -> dict[str, Any]:
        response = self.http.get("/audit/entries", params={"message_id": message_id},
                                 headers=self.auth(self.auditor))
        entries = response.json()["entries"]
        assert len(entries) == 1, entries
        return dict(entries[0])


def database_url(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'lgsp.db'}"
    return create_database("lgsp_t_core")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def stack(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    url = database_url(backend, tmp_path_factory.mktemp(f"stack-{backend}"))
    garbage = RawServer()
    raw = RawServer(HOP_BY_HOP_REPLY)
    provider = start_server(provider_app())
    settings = Settings.load(database_url=url, breaker_failure_threshold=3, breaker_cooldown_seconds=1.0,
                             buffer_response_bytes=64 * 1024, max_body_bytes=8 * 1024 * 1024,
                             registry_refresh_seconds=0.2, access_log=False)
    app = create_app(settings)
    apply(app.runtime.engine, parse_registry_file(
        registry_yaml(provider.url, garbage.url, closed_port_url(), closed_port_url(), raw.url)))
    engine = app.runtime.engine
    creds = (create_client(engine, CLIENT, ["gateway"]), create_client(engine, OTHER, ["gateway"]),
             create_client(engine, None, ["admin"]), create_client(engine, None, ["auditor"]))
    app.runtime.registry_changed()
    gateway = start_server(app)
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield Stack(backend, app, gateway, provider, *creds, http=client)
    gateway.stop()
    provider.stop()
    garbage.stop()
    raw.stop()
    engine.dispose()
    if backend == "postgresql":
        drop_database(url)
