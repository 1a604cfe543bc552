"""Memory bounds for every XML parse (issue 19 item 3): a streaming pre-scan refuses inputs with too many
elements, too deep a nesting, too long a text node or a DTD before any tree is built; and
``POST /signatures/verify`` needs a token unless an operator grants a small anonymous limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lgsp.app import create_app
from lgsp.auth.clients import create_client
from lgsp.safexml import UnsafeXmlError, XmlLimitExceeded, XmlLimits, parse_xml
from lgsp.settings import Settings
from lgsp.testing.servers import start_server
from lgsp.xml_limits import entry_limits
from registry.declarative import apply, parse_registry_file
from signing.testing import RevocationResponder, build_pki, edxml_document, sign_xml
from signing.xmlbounds import check_bounds

EMPTY_ELEMENTS = b"<r><f>" + b"<a/>" * 2_500_000 + b"</f></r>"  # 10 MB of empty elements in one field


@pytest.mark.parametrize(("data", "limit"), [
    (EMPTY_ELEMENTS, "elements"),
    (b"<a>" * 300 + b"</a>" * 300, "depth"),
    (b"<r>" + b"x" * 2_000 + b"</r>", "text"),
    (b'<r a="' + b"x" * 2_000 + b'"/>', "text"),
    (b"<r><!--" + b"x" * 2_000 + b"--></r>", "text"),
    (b"<r>" + b" " * 5_000 + b"</r>", "bytes"),
])
def test_each_bound_is_enforced_before_a_tree_exists(data: bytes, limit: str) -> None:
    limits = XmlLimits(max_bytes=4_000, max_elements=1_000, max_depth=100, max_text=1_000)
    if limit == "elements" or limit == "depth":
        limits = XmlLimits(max_elements=1_000, max_depth=100)
    started = time.perf_counter()
    with pytest.raises(XmlLimitExceeded) as caught:
        parse_xml(data, limits=limits)
    assert caught.value.limit == limit
    assert time.perf_counter() - started < 2  # stops at the chunk that crosses the bound


def test_default_bounds_apply_to_every_parse_and_dtds_are_refused() -> None:
    with pytest.raises(XmlLimitExceeded):
        parse_xml(EMPTY_ELEMENTS)
    with pytest.raises(UnsafeXmlError, match="DTD"):
        parse_xml(b'<!DOCTYPE r [<!ENTITY a "x">]><r>&a;</r>')
    assert check_bounds(b"<r><a x='1'>t</a><!--c--></r>") == 2


def test_limits_per_entry_point_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert entry_limits("documents").max_elements == 50_000
    monkeypatch.setenv("LGSP_XML_LIMITS_DOCUMENTS", "elements=10, depth=5,text=100")
    limits = entry_limits("documents", max_bytes=1_000)
    assert (limits.max_elements, limits.max_depth, limits.max_text, limits.max_bytes) == (10, 5, 100, 1_000)
    for bad in ("elements", "nodes=5", "depth=-1", "text=many"):
        with pytest.raises(ValueError):
            XmlLimits().with_spec(bad)


@pytest.fixture(scope="module")
def verify_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, object]]:
    tmp: Path = tmp_path_factory.mktemp("verify")
    responder = RevocationResponder()
    responder_server = start_server(responder)
    responder.pki = build_pki(responder_server.url)
    (tmp / "root.pem").write_bytes(responder.pki.root_pem)
    app = create_app(Settings.load(database_url=f"sqlite:///{tmp / 'v.db'}", trust_paths=str(tmp / "root.pem"),
                                   access_log=False))
    apply(app.runtime.engine, parse_registry_file(
        "agencies: [{code: 000.00.12.H10, name: UBND}]\nsystems: [{id: 000.00.12.H10/QLVB, name: QLVB}]\n"))
    cred = create_client(app.runtime.engine, "000.00.12.H10/QLVB", ["gateway"])
    auditor = create_client(app.runtime.engine, None, ["auditor"])
    gateway = start_server(app)

    def token(client_id: str, secret: str) -> str:
        reply = httpx.post(f"{gateway.url}/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(client_id, secret))
        return str(reply.json()["access_token"])

    yield gateway.url, token(cred.client_id, cred.client_secret), (
        token(auditor.client_id, auditor.client_secret), responder.pki, app)
    gateway.stop()
    responder_server.stop()


def test_verify_needs_a_token_with_the_gateway_scope(verify_gateway: tuple[str, str, object]) -> None:
    url, token, (auditor_token, pki, _) = verify_gateway  # type: ignore[misc]
    signed = sign_xml(edxml_document(), pki.good)
    headers = {"Content-Type": "application/xml"}
    anonymous = httpx.post(f"{url}/signatures/verify", content=signed, headers=headers)
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"
    wrong_scope = httpx.post(f"{url}/signatures/verify", content=signed,
                             headers={**headers, "Authorization": f"Bearer {auditor_token}"})
    assert wrong_scope.status_code == 403, wrong_scope.text
    ok = httpx.post(f"{url}/signatures/verify", content=signed, headers={**headers, "Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json()["indication"] == "TOTAL_PASSED"


def test_verify_refuses_an_element_bomb_with_413(verify_gateway: tuple[str, str, object]) -> None:
    url, token, _ = verify_gateway
    reply = httpx.post(f"{url}/signatures/verify", content=EMPTY_ELEMENTS, timeout=60,
                       headers={"Content-Type": "application/xml", "Authorization": f"Bearer {token}"})
    assert reply.status_code == 413 and reply.headers["content-type"] == "application/problem+json", reply.text
    assert "elements" in reply.json()["detail"]


def test_anonymous_limit_when_the_operator_allows_it(tmp_path: Path) -> None:
    responder = RevocationResponder()
    responder_server = start_server(responder)
    responder.pki = build_pki(responder_server.url)
    (tmp_path / "root.pem").write_bytes(responder.pki.root_pem)
    app = create_app(Settings.load(database_url=f"sqlite:///{tmp_path / 'a.db'}", access_log=False,
                                   trust_paths=str(tmp_path / "root.pem"), signatures_anonymous_max_bytes=20_000))
    gateway = start_server(app)
    try:
        small = sign_xml(edxml_document(), responder.pki.good)
        large = sign_xml(edxml_document(filler_bytes=40_000), responder.pki.good)
        headers = {"Content-Type": "application/xml"}
        assert httpx.post(f"{gateway.url}/signatures/verify", content=small, headers=headers).status_code == 200
        too_big = httpx.post(f"{gateway.url}/signatures/verify", content=large, headers=headers)
        assert too_big.status_code == 413 and too_big.json()["type"].endswith("/document-too-large")
    finally:
        gateway.stop()
        responder_server.stop()


def test_a_providers_element_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    """The upstream entry point: a SOAP reply over its bound is a 502 problem, not a gigabyte."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    reply = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x>' + b"<a/>" * 250_000
             + b"</x></s:Body></s:Envelope>")

    async def bomb(request: Request) -> Response:
        return Response(reply, media_type="text/xml")

    provider = start_server(Starlette(routes=[Route("/{path:path}", bomb, methods=["POST"])]))
    city, national = "000.00.12.H10", "000.00.00.G22"
    app = create_app(Settings.load(database_url=f"sqlite:///{tmp_path / 'u.db'}", access_log=False))
    apply(app.runtime.engine, parse_registry_file(f"""
agencies: [{{code: {city}, name: UBND}}, {{code: {national}, name: VPCP}}]
systems:
  - {{id: {city}/MOTCUA, name: Một cửa}}
  - {{id: {national}/NGSP, name: NGSP, client: false, provider: true}}
services:
  - {{id: {national}/NGSP/csdl, name: CSDL, kind: soap, base_url: "{provider.url}", wsdl_path: wsdl/ngsp/ngsp.wsdl,
      retry_attempts: 0}}
grants:
  - {{client: {city}/MOTCUA, service: {national}/NGSP/csdl, methods: [POST]}}
"""))
    cred = create_client(app.runtime.engine, f"{city}/MOTCUA", ["gateway"])
    app.runtime.registry_changed()
    gateway = start_server(app)
    try:
        token = httpx.post(f"{gateway.url}/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(cred.client_id, cred.client_secret)).json()["access_token"]
        answer = httpx.post(f"{gateway.url}/services/{national}/NGSP/csdl/XacThucThongTinCongDan", timeout=30,
                            json={"SoDinhDanh": "092090000101", "HoVaTen": "Nguyễn Văn An", "NgaySinh": "1990-01-15"},
                            headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 502 and answer.headers["content-type"] == "application/problem+json", answer.text
        assert "bound" in answer.json(), answer.text
        assert (answer.json()["type"].rsplit("/", 1)[1], answer.json()["bound"]) == ("upstream-bad-response",
                                                                                     "elements")
    finally:
        gateway.stop()
        provider.stop()

