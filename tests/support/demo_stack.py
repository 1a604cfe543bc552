"""A demo-like lgsp stack on 127.0.0.1 for interface tests: the fuzzer, the doc examples and the SDK test.

The gateway runs on a SQLite file with the demo's own registry (``lgsp/demo/registry.yaml``), the demo's
sample providers, the DVCQG portal simulator and the national document-axis simulator (directory synced),
and one client per role. It is what a developer gets from ``lgsp demo``, without the guided tour, so what
the tests prove about the contract holds for the stack the docs describe. It lives with the tests because
it starts each adapter's simulator by name (the core only finds adapters through `lgsp.adapters`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

import httpx

from adapters.dvcqg.seed import SAMPLE_AGENCY_CODE
from adapters.dvcqg.simulator import DvcqgSimulator, SimulatorConfig
from adapters.ngsp.simulator import create_simulator_app as ngsp_simulator
from adapters.vdxp.client import AxisClient
from adapters.vdxp.poller import sync_directory
from adapters.vdxp.simulator import create_simulator_app as axis_simulator
from lgsp.app import LgspApp, create_app
from lgsp.auth.clients import IssuedCredential, create_client
from lgsp.demo.providers import air_quality_app, civil_status_app
from lgsp.settings import Settings
from lgsp.testing.servers import RunningServer, start_server
from registry.declarative import apply, parse_registry_file

ROOT = Path(__file__).resolve().parents[2]
DEMO_REGISTRY = ROOT / "lgsp" / "demo" / "registry.yaml"
MAPPING = ROOT / "adapters" / "dvcqg" / "status_mapping.example.yaml"
CLIENT_SYSTEM = "000.00.12.H10/MOTCUA"
SENDER = "000.00.12.H10"
RECIPIENT = "000.00.00.G22"


@dataclass
class DemoStack:
    """The running stack; ``url`` is the gateway's base URL (no trailing slash)."""

    app: LgspApp
    gateway: RunningServer
    client: IssuedCredential  # gateway scope, bound to the demo one-stop-shop system
    admin: IssuedCredential
    auditor: IssuedCredential
    metrics: IssuedCredential  # a Prometheus scraper (separation of duties: no client holds every scope)
    registry_text: str = ""
    env: dict[str, str] = field(default_factory=dict)
    servers: list[RunningServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.gateway.url

    def restore_registry(self) -> None:
        """Put the demo registry back (a fuzzer's deletes included): ``lgsp apply`` of the same file."""
        apply(self.app.runtime.engine, parse_registry_file(self.registry_text))
        self.app.runtime.registry_changed()

    def token(self, cred: IssuedCredential) -> str:
        response = httpx.post(self.url + "/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(cred.client_id, cred.client_secret), timeout=10)
        response.raise_for_status()
        return str(response.json()["access_token"])


@contextmanager
def demo_stack(tmp: Path, **overrides: Any) -> Iterator[DemoStack]:
    """Start everything; on exit stop it and put back the ``LGSP_DVCQG_*`` environment it set."""
    servers = [start_server(civil_status_app()), start_server(air_quality_app()), start_server(ngsp_simulator())]
    user, password = "lgsp-demo-" + secrets.token_hex(3), secrets.token_urlsafe(16)
    portal = start_server(DvcqgSimulator(SimulatorConfig(username=user, password=password,
                                                         madonvi=SAMPLE_AGENCY_CODE)).app)
    axis_secret = secrets.token_urlsafe(24)
    axis = start_server(axis_simulator({
        "systems": [{"system_id": "lgsp-cantho", "secret": axis_secret, "agencies": [SENDER]},
                    {"system_id": "vpcp-qlvb", "secret": secrets.token_urlsafe(24), "agencies": [RECIPIENT]}],
        "agencies": [{"code": SENDER, "name": "Ủy ban nhân dân thành phố Cần Thơ"},
                     {"code": RECIPIENT, "name": "Văn phòng Chính phủ"}],
    }))
    servers += [portal, axis]
    env = {"LGSP_DVCQG_ADAPTER_URL": portal.url, "LGSP_DVCQG_USERNAME": user, "LGSP_DVCQG_PASSWORD": password,
           "LGSP_DVCQG_MADONVI": SAMPLE_AGENCY_CODE, "LGSP_DVCQG_STATUS_MAPPING": str(MAPPING)}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    gateway: RunningServer | None = None
    try:
        trust = tmp / "trust-root.pem"
        trust.write_bytes(_self_signed_root())
        settings = Settings.load(database_url=f"sqlite:///{tmp / 'lgsp.db'}", access_log=False,
                                 trust_paths=str(trust), **overrides)
        app = create_app(settings)
        engine = app.runtime.engine
        civil, air, ngsp = servers[:3]
        text = Template(DEMO_REGISTRY.read_text(encoding="utf-8")).substitute(
            CIVIL_STATUS_URL=civil.url, AIR_QUALITY_URL=air.url, NGSP_URL=ngsp.url)
        apply(engine, parse_registry_file(text))
        creds = (create_client(engine, CLIENT_SYSTEM, ["gateway"], "demo one-stop-shop system"),
                 create_client(engine, None, ["admin"], "demo operator"),
                 create_client(engine, None, ["auditor"], "demo auditor"),
                 create_client(engine, None, ["metrics"], "demo metrics scraper"))
        asyncio.run(_sync(axis.url, axis_secret, engine))
        app.runtime.registry_changed()
        gateway = start_server(app)
        yield DemoStack(app, gateway, *creds, registry_text=text, env=env, servers=servers)
    finally:
        if gateway is not None:
            gateway.stop()
        for server in reversed(servers):
            server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def _sync(url: str, secret: str, engine: object) -> None:
    async with AxisClient(url, "lgsp-cantho", secret, timeout=10) as client:
        await sync_directory(engine, client)  # type: ignore[arg-type]


def _self_signed_root() -> bytes:
    """A trust anchor for the signature verifier (nothing the fuzzer sends is signed by it)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lgsp demo trust root")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)
