"""Per-service signature policy in the gateway, with a generated PKI and its CRL/OCSP responder on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from lgsp.app import create_app
from lgsp.auth.clients import create_client
from lgsp.settings import Settings
from lgsp.testing.servers import start_server
from registry.declarative import apply, parse_registry_file
from signing.testing import RevocationResponder, build_pki, edxml_document, sign_xml
from tests.core.providers import provider_app

CITY, DEPT = "000.00.12.H10", "000.00.31.H10"
CLIENT = f"{CITY}/QLVB"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, object, httpx.Client]]:
    tmp = tmp_path_factory.mktemp("sig")
    responder = RevocationResponder()
    responder_server = start_server(responder)
    responder.pki = build_pki(responder_server.url)
    (tmp / "root.pem").write_bytes(responder.pki.root_pem)
    provider = start_server(provider_app())
    app = create_app(Settings.load(database_url=f"sqlite:///{tmp / 's.db'}", trust_paths=str(tmp / "root.pem"),
                                   access_log=False))
    apply(app.runtime.engine, parse_registry_file(f"""
agencies: [{{code: {CITY}, name: UBND}}, {{code: {DEPT}, name: Sở}}]
systems:
  - {{id: {CLIENT}, name: QLVB}}
  - {{id: {DEPT}/PROV, name: P, client: false, provider: true}}
services:
  - {{id: {DEPT}/PROV/require, name: R, base_url: "{provider.url}", signature_policy: require}}
  - {{id: {DEPT}/PROV/report, name: P, base_url: "{provider.url}", signature_policy: report}}
grants:
  - {{client: {CLIENT}, service: {DEPT}/PROV/require}}
  - {{client: {CLIENT}, service: {DEPT}/PROV/report}}
"""))
    cred = create_client(app.runtime.engine, CLIENT, ["gateway"])
    auditor = create_client(app.runtime.engine, None, ["auditor"])
    _ENGINE["engine"] = app.runtime.engine
    app.runtime.registry_changed()
    gateway = start_server(app)
    with httpx.Client(base_url=gateway.url, timeout=30) as http, httpx.Client(base_url=gateway.url) as audit:
        token = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(cred.client_id, cred.client_secret)).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        atoken = audit.post("/oauth/token", data={"grant_type": "client_credentials"},
                            auth=(auditor.client_id, auditor.client_secret)).json()["access_token"]
        audit.headers["Authorization"] = f"Bearer {atoken}"
        yield http, responder.pki, audit
    for server in (gateway, provider, responder_server):
        server.stop()


def _entry(audit: httpx.Client, response: httpx.Response) -> dict:
    entries = audit.get("/audit/entries", params={"message_id": response.headers["x-lgsp-message-id"]}).json()
    return dict(entries["entries"][0])


def test_signed_document_passes_and_report_digest_is_audited(gw) -> None:  # type: ignore[no-untyped-def]
    http, pki, audit = gw
    signed = sign_xml(edxml_document(), pki.good)
    response = http.post(f"/services/{DEPT}/PROV/require/van-ban", content=signed,
                         headers={"Content-Type": "application/xml"})
    assert response.status_code == 200, response.text
    entry = _entry(audit, response)
    assert len(entry["signature_report_sha256"]) == 64 and entry["extra"]["signature"] == "TOTAL_PASSED"


@pytest.mark.parametrize("case", ["tampered", "unsigned", "revoked", "untrusted"])
def test_require_policy_rejects_with_the_report(gw, case: str) -> None:  # type: ignore[no-untyped-def]
    http, pki, audit = gw
    if case == "tampered":
        signed = sign_xml(edxml_document(), pki.good)
        body = signed.replace(b"trien khai LGSP", b"huy bo LGSP", 1)
        assert body != signed
    elif case == "unsigned":
        body = edxml_document()
    elif case == "revoked":
        body = sign_xml(edxml_document(), pki.revoked)
    else:
        body = sign_xml(edxml_document(), pki.untrusted)
    response = http.post(f"/services/{DEPT}/PROV/require/van-ban", content=body,
                         headers={"Content-Type": "application/xml"})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("/signature-invalid")
    assert problem["signature_report"]["indication"] in {"TOTAL_FAILED", "INDETERMINATE"}
    entry = _entry(audit, response)
    assert entry["status"] == 422 and entry["signature_report_sha256"]


def test_report_policy_lets_unsigned_through_but_records(gw) -> None:  # type: ignore[no-untyped-def]
    http, _, audit = gw
    response = http.post(f"/services/{DEPT}/PROV/report/van-ban", content=edxml_document(),
                         headers={"Content-Type": "application/xml"})
    assert response.status_code == 200
    entry = _entry(audit, response)
    assert entry["signature_report_sha256"] and entry["extra"]["signature"] != "TOTAL_PASSED"


def test_verify_endpoint_shares_the_gateway_verifier(gw) -> None:  # type: ignore[no-untyped-def]
    http, pki, _ = gw
    response = http.post("/signatures/verify", content=sign_xml(edxml_document(), pki.good),
                         headers={"Content-Type": "application/xml"})
    assert response.status_code == 200 and response.json()["indication"] == "TOTAL_PASSED"


def test_require_without_trust_anchors_fails_closed() -> None:
    from lgsp.gateway.exchange import Exchange
    from lgsp.gateway.signatures import no_verifier
    from lgsp.problems import Problem
    from registry.snapshot import ServiceView

    service = ServiceView(id="a/b/c", agency="a", system="a/b", code="c", kind="rest", base_url="http://x",
                          wsdl_path=None, timeout_seconds=1, retry_attempts=0, retry_backoff_seconds=0,
                          idempotent_methods=frozenset(), max_body_bytes=None, signature_policy="require",
                          keep_bodies=False)
    from datetime import UTC, datetime

    exchange = Exchange(message_id="m", correlation_id="m", received_at=datetime.now(UTC), service=service)
    with pytest.raises(Problem) as info:
        no_verifier(exchange)
    assert info.value.kind == "not-configured" and info.value.status == 503


def test_jws_signed_with_the_callers_registered_key(gw) -> None:  # type: ignore[no-untyped-def]
    """A JWS without x5c is verified only against keys the *calling* system registered."""
    from joserfc import jws
    from joserfc.jwk import ECKey

    http, _, _ = gw
    own, foreign = ECKey.generate_key("P-256"), ECKey.generate_key("P-256")
    public = own.as_dict(private=False) | {"kid": "qlvb-2026"}
    admin = _admin_client(http)
    stored = admin.put(f"/admin/systems/{CLIENT}", json={"name": "QLVB", "jwks": {"keys": [public]}})
    assert stored.status_code == 200, stored.text
    private = admin.put(f"/admin/systems/{CLIENT}", json={"name": "QLVB",
                                                          "jwks": {"keys": [own.as_dict(private=True) | {"kid": "x"}]}})
    assert private.status_code == 422 and private.json()["errors"][0]["field"] == "jwks.keys[0]"
    payload = b'{"so_van_ban": "123/UBND-VP"}'
    good = jws.serialize_compact({"alg": "ES256", "kid": "qlvb-2026"}, payload, own)
    response = http.post(f"/services/{DEPT}/PROV/require/jws", content=good,
                         headers={"Content-Type": "application/jose"})
    assert response.status_code == 200, response.text
    forged = jws.serialize_compact({"alg": "ES256", "kid": "qlvb-2026"}, payload, foreign)
    response = http.post(f"/services/{DEPT}/PROV/require/jws", content=forged,
                         headers={"Content-Type": "application/jose"})
    assert response.status_code == 422 and response.json()["type"].endswith("/signature-invalid")
    unknown = jws.serialize_compact({"alg": "ES256", "kid": "someone-else"}, payload, own)
    response = http.post(f"/services/{DEPT}/PROV/require/jws", content=unknown,
                         headers={"Content-Type": "application/jose"})
    assert response.status_code == 422


def _admin_client(http: httpx.Client) -> httpx.Client:
    from lgsp.auth.clients import create_client

    cred = create_client(_ENGINE["engine"], None, ["admin"])  # type: ignore[arg-type]
    admin = httpx.Client(base_url=str(http.base_url), timeout=30)
    token = admin.post("/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(cred.client_id, cred.client_secret)).json()["access_token"]
    admin.headers["Authorization"] = f"Bearer {token}"
    return admin


_ENGINE: dict[str, object] = {}
