"""A real gateway with the console, a provider, an OpenID Connect provider of our own, and people per role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from lgsp.app import LgspApp, create_app
from lgsp.auth.clients import IssuedCredential, create_client
from lgsp.console.accounts import create_user
from lgsp.settings import Settings
from lgsp.testing.oidc_provider import TestProvider
from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import RunningServer, start_server
from registry.declarative import apply, parse_registry_file
from tests.core.providers import provider_app

CITY = "000.00.12.H10"
DEPT = "000.00.31.H10"
CLIENT = f"{CITY}/MOTCUA"
ECHO = f"{DEPT}/PROV/echo"
PASSWORD = "correct-horse-battery"
ROLES = {"operator": "operator", "security-officer": "security_officer", "auditor": "auditor",
         "observer": "observer"}


def registry_yaml(provider: str) -> str:
    return f"""
agencies:
  - {{code: {CITY}, name: UBND thành phố Cần Thơ}}
  - {{code: {DEPT}, name: Sở Tư pháp, parent: {CITY}}}
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: {DEPT}/PROV, name: Provider, client: false, provider: true}}
services:
  - {{id: {ECHO}, name: Echo, base_url: "{provider}"}}
grants:
  - {{client: {CLIENT}, service: {ECHO}}}
"""


@dataclass
class ConsoleStack:
    backend: str
    app: LgspApp
    gateway: RunningServer
    provider: RunningServer
    idp: TestProvider
    idp_server: RunningServer
    client: IssuedCredential
    tmp: Path

    @property
    def url(self) -> str:
        return self.gateway.url

    def gateway_token(self) -> str:
        response = httpx.post(f"{self.url}/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(self.client.client_id, self.client.client_secret))
        return str(response.json()["access_token"])

    def browser(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, follow_redirects=False)

    def login(self, username: str, password: str = PASSWORD) -> httpx.Client:
        http = self.browser()
        response = http.post("/console/login", data={"username": username, "password": password,
                                                     "csrf": login_csrf(http)})
        assert response.status_code == 303, response.text
        return http


def login_csrf(http: httpx.Client) -> str:
    page = http.get("/console/login")
    return csrf_of(page.text)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def build_stack(backend: str, tmp: Path) -> Iterator[ConsoleStack]:
    url = f"sqlite:///{tmp / 'lgsp.db'}" if backend == "sqlite" else create_database("lgsp_t_console")
    provider = start_server(provider_app())
    idp = TestProvider(users={"lan.nguyen": {"roles": ["auditor"], "name": "Nguyễn Thị Lan"},
                              "no.role": {"roles": ["staff"], "name": "Không vai trò"}})
    idp_server = start_server(idp.app())
    idp.issuer = idp_server.url
    settings = Settings.load(database_url=url, access_log=False, registry_refresh_seconds=0.2,
                             audit_log_key_file=str(tmp / "audit-key.pem"), audit_head_every_entries=1,
                             audit_head_every_seconds=0.2, oidc_issuer=idp.issuer, oidc_client_id=idp.client_id,
                             oidc_client_secret=idp.client_secret)
    app = create_app(settings)
    engine = app.runtime.engine
    apply(engine, parse_registry_file(registry_yaml(provider.url)))
    client = create_client(engine, CLIENT, ["gateway"])
    for username, role in ROLES.items():
        create_user(engine, username, role, PASSWORD)
    app.runtime.registry_changed()
    gateway = start_server(app)
    yield ConsoleStack(backend, app, gateway, provider, idp, idp_server, client, tmp)
    gateway.stop()
    provider.stop()
    idp_server.stop()
    engine.dispose()
    if backend == "postgresql":
        drop_database(url)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    yield from build_stack("sqlite", tmp_path_factory.mktemp("console"))


@pytest.fixture(scope="module")
def pg_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    yield from build_stack("postgresql", tmp_path_factory.mktemp("console-pg"))
