"""A real gateway for the security probes: store (SQLite file or fresh PostgreSQL), gateway server, a
recording provider, the NGSP SOAP simulator and clients. Module-scoped so each module starts it once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from adapters.ngsp.simulator import create_simulator_app
from lgsp.app import LgspApp, create_app
from lgsp.auth.clients import IssuedCredential, create_client
from lgsp.settings import Settings
from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import RunningServer, start_server
from registry.declarative import apply, parse_registry_file
from tests.security.providers import RecordingProvider

CITY = "000.00.12.H10"
DEPT = "000.00.31.H10"
NATIONAL = "000.00.00.G22"
CLIENT = f"{CITY}/MOTCUA"
FILES = f"{DEPT}/PROV/files"
OPEN = f"{DEPT}/PROV/open"
SMALL = f"{DEPT}/PROV/small"
NGSP = f"{NATIONAL}/NGSP/csdl-quoc-gia"
NGSP_SMALL = f"{NATIONAL}/NGSP/csdl-nho"
SOAP_DTD = f"{DEPT}/PROV/soap-dtd"
PROBLEM = "application/problem+json"


def registry_yaml(provider: str, simulator: str) -> str:
    return f"""
agencies:
  - {{code: {CITY}, name: UBND thành phố Cần Thơ}}
  - {{code: {DEPT}, name: Sở Tư pháp, parent: {CITY}}}
  - {{code: {NATIONAL}, name: Văn phòng Chính phủ}}
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: {DEPT}/PROV, name: Provider, client: false, provider: true}}
  - {{id: {NATIONAL}/NGSP, name: NGSP, client: false, provider: true}}
services:
  - {{id: {FILES}, name: Files, base_url: "{provider}/root", timeout_seconds: 3, retry_attempts: 0}}
  - {{id: {OPEN}, name: Open, base_url: "{provider}", timeout_seconds: 3, retry_attempts: 0}}
  - {{id: {SMALL}, name: Small, base_url: "{provider}", timeout_seconds: 3, retry_attempts: 0, max_body_bytes: 1000}}
  - {{id: {NGSP}, name: CSDL quốc gia, kind: soap, base_url: "{simulator}", wsdl_path: wsdl/ngsp/ngsp.wsdl,
      timeout_seconds: 3, retry_attempts: 0}}
  - {{id: {NGSP_SMALL}, name: CSDL nhỏ, kind: soap, base_url: "{simulator}", wsdl_path: wsdl/ngsp/ngsp.wsdl,
      timeout_seconds: 3, retry_attempts: 0, max_body_bytes: 2000}}
  - {{id: {SOAP_DTD}, name: SOAP with a DTD reply, kind: soap, base_url: "{provider}/xml/doctype",
      wsdl_path: wsdl/ngsp/ngsp.wsdl, timeout_seconds: 3, retry_attempts: 0}}
grants:
  - {{client: {CLIENT}, service: {SOAP_DTD}, methods: [POST]}}
  - {{client: {CLIENT}, service: {FILES}, methods: [GET], path: "public/*"}}
  - {{client: {CLIENT}, service: {OPEN}}}
  - {{client: {CLIENT}, service: {SMALL}}}
  - {{client: {CLIENT}, service: {NGSP}, methods: [GET, POST]}}
  - {{client: {CLIENT}, service: {NGSP_SMALL}, methods: [POST]}}
"""


@dataclass
class Stack:
    backend: str
    app: LgspApp
    gateway: RunningServer
    recorder: RecordingProvider
    client: IssuedCredential
    admin: IssuedCredential
    auditor: IssuedCredential
    http: httpx.Client

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def engine(self) -> Engine:
        return self.app.runtime.engine

    def token(self, cred: IssuedCredential | None = None, **form: str) -> str:
        cred = cred or self.client
        response = self.http.post("/oauth/token", data={"grant_type": "client_credentials", **form},
                                  auth=(cred.client_id, cred.client_secret))
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def auth(self, cred: IssuedCredential | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(cred)}", **extra}


def assert_problem(status: int, content_type: str, body: Any, expected: int, kind: str) -> dict[str, Any]:
    assert status == expected, body
    assert content_type.startswith(PROBLEM), content_type
    assert body["type"] == f"https://lgsp.dev/problems/{kind}", body
    return dict(body)


def database_url(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'lgsp.db'}"
    return create_database("lgsp_t_sec")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def settings_for(url: str, **overrides: Any) -> Settings:
    return Settings.load(database_url=url, registry_refresh_seconds=0.2, access_log=False,
                         max_body_bytes=64 * 1024, buffer_response_bytes=16 * 1024, **overrides)


@pytest.fixture(scope="module")
def stack(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    url = database_url(backend, tmp_path_factory.mktemp(f"sec-{backend}"))
    recorder = RecordingProvider()
    provider = start_server(recorder)
    simulator = start_server(create_simulator_app())
    app = create_app(settings_for(url))
    apply(app.runtime.engine, parse_registry_file(registry_yaml(provider.url, simulator.url)))
    engine = app.runtime.engine
    creds = (create_client(engine, CLIENT, ["gateway"]), create_client(engine, None, ["admin"]),
             create_client(engine, None, ["auditor"]))
    app.runtime.registry_changed()
    gateway = start_server(app)
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield Stack(backend, app, gateway, recorder, *creds, http=client)
    gateway.stop()
    provider.stop()
    simulator.stop()
    engine.dispose()
    if backend == "postgresql":
        drop_database(url)
