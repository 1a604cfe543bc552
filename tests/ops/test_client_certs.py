"""mTLS binding of client systems (issue 17.7): header parsing, the trusted-proxy rule, the registry field,
and the whole path through HAProxy terminating TLS (``verify optional``, ``%[ssl_c_der,base64]``)."""

from __future__ import annotations

import base64
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy.orm import Session

from lgsp.app import create_app
from lgsp.auth.clients import create_client
from lgsp.gateway.client_certs import (
    CertificateHeaderError,
    PeerRecorder,
    Transport,
    is_trusted_proxy,
    parse_header_certificate,
    parse_trusted_proxies,
    presented_certificate,
)
from lgsp.settings import Settings
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import start_server
from registry.declarative import RegistryFileError, apply, current_state, export, parse_registry_file
from registry.snapshot import load_snapshot
from tests.core.providers import provider_app
from tests.ops.haproxy import free_port, start_haproxy
from tests.ops.pki import Issued, issue, make_ca

CITY = "000.00.12.H10"
DEPT = "000.00.31.H10"
BOUND = f"{CITY}/MOTCUA"
FREE = f"{CITY}/QLVB"
ECHO = f"{DEPT}/PROV/echo"
HEADER = "X-SSL-Client-Cert"


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca()


@pytest.fixture(scope="module")
def client_cert(ca: Issued) -> Issued:
    return issue(ca, "MOTCUA")


def registry(provider: str, fingerprint: str) -> str:
    return f"""
agencies:
  - {{code: {CITY}, name: UBND thành phố}}
  - {{code: {DEPT}, name: Sở Tư pháp, parent: {CITY}}}
systems:
  - {{id: {BOUND}, name: Một cửa, client_cert_sha256: "{fingerprint}"}}
  - {{id: {FREE}, name: Quản lý văn bản}}
  - {{id: {DEPT}/PROV, name: Provider, client: false, provider: true}}
services:
  - {{id: {ECHO}, name: Echo, base_url: "{provider}", timeout_seconds: 2, retry_attempts: 0}}
grants:
  - {{client: {BOUND}, service: {ECHO}}}
  - {{client: {FREE}, service: {ECHO}}}
"""


# --- the header and the trusted-proxy rule ---------------------------------------------------------------

def test_header_forms(client_cert: Issued) -> None:
    der = client_cert.der
    assert parse_header_certificate(base64.b64encode(der).decode()) == der  # HAProxy ssl_c_der,base64
    assert parse_header_certificate(client_cert.pem.decode()) == der  # plain PEM
    assert parse_header_certificate(quote(client_cert.pem.decode(), safe="")) == der  # nginx escaped PEM
    assert parse_header_certificate("") is None and parse_header_certificate("  ") is None
    for garbage in ("not a certificate", base64.b64encode(b"\x30\x03abc").decode(), "%2D%2D%2D%2D%2DBEGIN",
                    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"):
        with pytest.raises(CertificateHeaderError):
            parse_header_certificate(garbage)


def test_trusted_proxies() -> None:
    networks = parse_trusted_proxies("127.0.0.2, 10.0.0.0/24 ::1")
    assert is_trusted_proxy("127.0.0.2", networks) and is_trusted_proxy("10.0.0.77", networks)
    assert is_trusted_proxy("::ffff:10.0.0.5", networks) and is_trusted_proxy("::1", networks)
    for host in ("127.0.0.1", "10.0.1.1", "lb.example", "", None):
        assert not is_trusted_proxy(host, networks)
    assert not is_trusted_proxy("127.0.0.1", parse_trusted_proxies(""))
    with pytest.raises(ValueError, match="LGSP_TRUSTED_PROXIES"):
        parse_trusted_proxies("10.0.0.0/33")


def test_header_believed_only_from_a_trusted_proxy(client_cert: Issued) -> None:
    headers = [(b"x-ssl-client-cert", base64.b64encode(client_cert.der))]
    forged = presented_certificate(Transport("192.0.2.9"), headers, HEADER, "127.0.0.2")
    assert forged is None  # the header from an untrusted peer is ignored
    assert presented_certificate(Transport("127.0.0.2"), headers, HEADER, "127.0.0.2") == client_cert.der
    assert presented_certificate(Transport("127.0.0.2"), headers, "", "127.0.0.2") is None  # no header set up
    with pytest.raises(CertificateHeaderError, match="more than once"):
        presented_certificate(Transport("127.0.0.2"), headers * 2, HEADER, "127.0.0.2")
    # the ASGI TLS extension (a server that terminates TLS itself) wins over any header
    chain = (client_cert.pem.decode(),)
    assert presented_certificate(Transport("192.0.2.9", chain), [], HEADER, "") == client_cert.der


# --- the registry field ----------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'certs.db'}"
        return
    url = create_database("lgsp_t_certs")
    yield url
    drop_database(url)


def test_registry_round_trip(store_url: str, client_cert: Issued) -> None:
    engine = make_engine(store_url)
    upgrade(engine)
    try:
        text = registry("http://127.0.0.1:9", client_cert.sha256(colons=True))  # openssl's colon form
        apply(engine, parse_registry_file(text))
        assert load_snapshot(engine).client_certs == {BOUND: frozenset({client_cert.sha256()})}
        exported = export(engine)
        assert f"client_cert_sha256:\n  - {client_cert.sha256()}" in exported
        assert apply(engine, parse_registry_file(exported)) == []  # export -> apply is a no-op
        with Session(engine) as session:
            assert next(s for s in current_state(session).systems if s.id == FREE).client_cert_sha256 is None
        with pytest.raises(RegistryFileError, match="client_cert_sha256"):
            parse_registry_file(text.replace(client_cert.sha256(colons=True), "abcd"))
    finally:
        engine.dispose()


# --- through HAProxy terminating TLS ---------------------------------------------------------------------

def _haproxy_config(tls_port: int, gateway_port: int, crt: Path, ca_file: Path) -> str:
    return f"""
global
    stats socket {{admin}} mode 600 level admin
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend tls
    bind 127.0.0.1:{tls_port} ssl crt {crt} ca-file {ca_file} verify optional
    http-request del-header {HEADER}
    http-request set-header {HEADER} %[ssl_c_der,base64] if {{ ssl_c_used }}
    option forwardfor
    default_backend gateway
backend gateway
    # no health check: this test is about the certificate header, and a check with a short timeout marks
    # the one server DOWN (HAProxy then answers 503) whenever a loaded CI machine answers /readyz slowly
    server gw 127.0.0.1:{gateway_port} source 127.0.0.2
"""


def _client(ca: Issued, tmp: Path, cert: Issued | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(tmp / "ca.pem"))
    if cert is not None:
        certfile, keyfile = cert.write(tmp, f"client-{cert.sha256()[:8]}")
        context.load_cert_chain(certfile, keyfile)
    return httpx.Client(verify=context, timeout=30)


def test_bound_system_through_haproxy(tmp_path: Path, ca: Issued, client_cert: Issued) -> None:
    other_cert = issue(ca, "MOTCUA-stolen-key-replaced")  # same CA, not registered
    server_cert = issue(ca, "127.0.0.1", server=True)
    (tmp_path / "ca.pem").write_bytes(ca.pem)
    crt = tmp_path / "server.pem"
    crt.write_bytes(server_cert.pem + server_cert.key_pem)
    provider = start_server(provider_app())
    settings = Settings.load(database_url=f"sqlite:///{tmp_path / 'gw.db'}", registry_refresh_seconds=0.2,
                             access_log=False, client_cert_header=HEADER, trusted_proxies="127.0.0.2")
    app = create_app(settings)
    apply(app.runtime.engine, parse_registry_file(registry(provider.url, client_cert.sha256())))
    bound = create_client(app.runtime.engine, BOUND, ["gateway"])
    free = create_client(app.runtime.engine, FREE, ["gateway"])
    auditor = create_client(app.runtime.engine, None, ["auditor"])
    admin = create_client(app.runtime.engine, None, ["admin"])
    app.runtime.registry_changed()
    gateway = start_server(PeerRecorder(app, "127.0.0.1"), proxy_headers=False)  # as `lgsp serve` runs it
    tls_port = free_port()
    proxy = start_haproxy(_haproxy_config(tls_port, gateway.port, crt, tmp_path / "ca.pem"), tmp_path)
    try:
        proxy.wait_for("gateway", {"gw": "no check"})  # HAProxy is up and serving
        lb = f"https://127.0.0.1:{tls_port}"

        def token(cred: object) -> dict[str, str]:
            reply = httpx.post(gateway.url + "/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(cred.client_id, cred.client_secret))  # type: ignore[attr-defined]
            return {"Authorization": f"Bearer {reply.json()['access_token']}"}

        with _client(ca, tmp_path, client_cert) as right, _client(ca, tmp_path, other_cert) as wrong, \
                _client(ca, tmp_path, None) as anonymous:
            ok = right.get(f"{lb}/services/{ECHO}/hello", headers=token(bound))
            assert ok.status_code == 200, ok.text

            missing = anonymous.get(f"{lb}/services/{ECHO}/hello", headers=token(bound))
            assert missing.status_code == 401
            assert missing.headers["content-type"].startswith("application/problem+json")
            assert missing.json()["title"] == "Client certificate required"

            mismatch = wrong.get(f"{lb}/services/{ECHO}/hello", headers=token(bound))
            assert mismatch.status_code == 403
            assert mismatch.json()["type"].endswith("/client-certificate-mismatch")
            assert other_cert.sha256() in mismatch.json()["detail"]

            # a caller's own header never passes HAProxy (del-header), with or without a certificate
            smuggled = anonymous.get(f"{lb}/services/{ECHO}/hello", headers={
                **token(bound), HEADER: base64.b64encode(client_cert.der).decode()})
            assert smuggled.status_code == 401

            # the documents API checks the binding too (before looking anything up)
            assert anonymous.get(f"{lb}/documents/nope", headers=token(bound)).status_code == 401
            assert right.get(f"{lb}/documents/nope", headers=token(bound)).status_code == 404

            # unbound systems are unaffected, with or without a certificate
            unbound = anonymous.get(f"{lb}/services/{ECHO}/hello", headers=token(free))
            assert unbound.status_code == 200, unbound.text
            unbound = wrong.get(f"{lb}/services/{ECHO}/hello", headers=token(free))
            assert unbound.status_code == 200, unbound.text

            # the admin API binds a system; a bad fingerprint is a 422 problem naming the field
            admin_auth = token(admin)
            system = f"{lb}/admin/systems/{FREE}"
            bad = right.put(system, json={"name": "QLVB", "client_cert_sha256": ["abcd"]}, headers=admin_auth)
            assert bad.status_code == 422 and "client_cert_sha256" in bad.text, bad.text
            bind = right.put(system, json={"name": "QLVB", "client_cert_sha256": [other_cert.sha256(colons=True)]},
                             headers=admin_auth)
            assert bind.status_code == 200 and bind.json()["client_cert_sha256"] == [other_cert.sha256()]
            listed = right.get(f"{lb}/admin/systems", headers=admin_auth).json()
            assert next(s for s in listed if s["id"] == FREE)["client_cert_sha256"] == [other_cert.sha256()]
            assert anonymous.get(f"{lb}/services/{ECHO}/hello", headers=token(free)).status_code == 401
            assert wrong.get(f"{lb}/services/{ECHO}/hello", headers=token(free)).status_code == 200

        # straight to the gateway (peer 127.0.0.1, not a trusted proxy): a forged header is ignored, also
        # when X-Forwarded-For claims the trusted proxy's address
        forged = {**token(bound), HEADER: base64.b64encode(client_cert.der).decode()}
        direct = httpx.get(f"{gateway.url}/services/{ECHO}/hello", headers=forged)
        assert direct.status_code == 401 and direct.json()["title"] == "Client certificate required"
        spoofed = httpx.get(f"{gateway.url}/services/{ECHO}/hello",
                            headers={**forged, "X-Forwarded-For": "127.0.0.2"})
        assert spoofed.status_code == 401

        # refusals are audited like every exchange
        entries = httpx.get(gateway.url + "/audit/entries", params={"limit": 100},
                            headers=token(auditor)).json()["entries"]
        assert sorted(e["status"] for e in entries) == [200, 200, 200, 200, 401, 401, 401, 401, 401, 403]
    finally:
        proxy.stop()
        gateway.stop()
        provider.stop()
        app.runtime.engine.dispose()


# --- lgsp serve terminating TLS itself -------------------------------------------------------------------

def test_bound_system_direct_tls(tmp_path: Path, ca: Issued, client_cert: Issued) -> None:
    """`lgsp serve --ssl-ca-certs`: the certificate comes from the handshake (ASGI TLS extension)."""
    server_cert = issue(ca, "127.0.0.1", server=True)
    (tmp_path / "ca.pem").write_bytes(ca.pem)
    certfile, keyfile = server_cert.write(tmp_path, "server")
    provider = start_server(provider_app())
    url = f"sqlite:///{tmp_path / 'direct.db'}"
    engine = make_engine(url)
    upgrade(engine)
    apply(engine, parse_registry_file(registry(provider.url, client_cert.sha256())))
    bound = create_client(engine, BOUND, ["gateway"])
    free = create_client(engine, FREE, ["gateway"])
    engine.dispose()
    port = free_port()
    env = {**os.environ, "LGSP_DATABASE_URL": url}
    with open(tmp_path / "serve.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "lgsp.cli", "serve", "--port", str(port),
                                   "--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile),
                                   "--ssl-ca-certs", str(tmp_path / "ca.pem")],
                                  env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"https://127.0.0.1:{port}"
    try:
        with _client(ca, tmp_path, client_cert) as right, _client(ca, tmp_path, issue(ca, "other")) as wrong, \
                _client(ca, tmp_path, None) as anonymous, \
                _client(ca, tmp_path, issue(make_ca("foreign CA"), "MOTCUA")) as foreign:
            deadline = time.monotonic() + 90
            while True:  # wait for the server's readiness, not a fixed time
                try:
                    if anonymous.get(base + "/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.1)

            def token(cred: object) -> dict[str, str]:
                reply = anonymous.post(base + "/oauth/token", data={"grant_type": "client_credentials"},
                                       auth=(cred.client_id, cred.client_secret))  # type: ignore[attr-defined]
                return {"Authorization": f"Bearer {reply.json()['access_token']}"}

            assert right.get(f"{base}/services/{ECHO}/x", headers=token(bound)).status_code == 200
            missing = anonymous.get(f"{base}/services/{ECHO}/x", headers=token(bound))
            assert missing.status_code == 401 and missing.json()["title"] == "Client certificate required"
            assert wrong.get(f"{base}/services/{ECHO}/x", headers=token(bound)).status_code == 403
            assert anonymous.get(f"{base}/services/{ECHO}/x", headers=token(free)).status_code == 200
            with pytest.raises(httpx.TransportError):  # a certificate from another CA fails the handshake
                foreign.get(base + "/readyz")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
        provider.stop()


def test_cli_binds_and_keeps_the_binding(tmp_path: Path, client_cert: Issued) -> None:
    """`lgsp registry add-system --client-cert-sha256`; a later update without it never unbinds silently."""
    from typer.testing import CliRunner

    from lgsp.cli.main import app as cli

    env = {**os.environ, "LGSP_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "200"}

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        return result.exit_code, result.stdout + result.stderr

    assert run("registry", "add-agency", CITY, "UBND")[0] == 0
    assert run("registry", "add-system", BOUND, "Một cửa", "--client-cert-sha256",
               client_cert.sha256(colons=True))[0] == 0
    assert f"- {client_cert.sha256()}" in run("registry", "export")[1]
    assert run("registry", "add-system", BOUND, "Một cửa (mới)")[0] == 0  # a rename keeps the binding
    exported = run("registry", "export")[1]
    assert "Một cửa (mới)" in exported and f"- {client_cert.sha256()}" in exported
    code, out = run("registry", "add-system", BOUND, "Một cửa", "--client-cert-sha256", "nope")
    assert code == 2 and "client_cert_sha256" in out
    assert run("registry", "add-system", BOUND, "Một cửa", "--unbind")[0] == 0
    assert "client_cert_sha256" not in run("registry", "export")[1]
