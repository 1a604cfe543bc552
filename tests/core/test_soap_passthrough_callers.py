"""What SOAP-speaking callers send into pass-through, seen from the provider's side of the gateway.

A capture provider on 127.0.0.1 records the bytes and headers lgsp forwards, so each test checks what
reached the provider (or that nothing did): a second Header, a caller's own ``xrd:userId``, a Body that
runs another operation than the granted path, a SOAPAction naming another, a non-UTF-8 envelope whose
charset label went on unchanged, a SOAP 1.2 caller answered with a 1.1 Fault, MTOM.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import httpx
import pytest
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lgsp.app import create_app
from lgsp.auth.clients import create_client
from lgsp.settings import Settings
from lgsp.testing.servers import start_server
from registry.declarative import apply, parse_registry_file

CITY, NATIONAL = "000.00.12.H10", "000.00.00.G22"
CLIENT = f"{CITY}/MOTCUA"
SERVICE = f"{NATIONAL}/NGSP/capture"
OPEN = f"{NATIONAL}/NGSP/capture-all"  # granted every path, the service root too
S11, S12 = "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope"
XRD = "http://x-road.eu/xsd/xroad.xsd"
XRD_DECL = f'xmlns:xrd="{XRD}" xmlns:id="http://x-road.eu/xsd/identifiers"'
LOOKUP = ('<n:TraCuuDoanhNghiep xmlns:n="urn:lgsp:ngsp:v1"><n:MaSoThue>1800000018</n:MaSoThue>'
          "</n:TraCuuDoanhNghiep>")
VERIFY = ('<n:XacThucThongTinCongDan xmlns:n="urn:lgsp:ngsp:v1"><n:SoDinhDanh>092090000101</n:SoDinhDanh>'
          "<n:HoVaTen>Nguyễn Văn An</n:HoVaTen><n:NgaySinh>1990-01-15</n:NgaySinh></n:XacThucThongTinCongDan>")
REPLY = f'<s:Envelope xmlns:s="{S11}"><s:Body><ok/></s:Body></s:Envelope>'.encode()


class Capture:
    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, request: Request) -> Response:
        self.seen.append((dict(request.headers), await request.body()))
        return Response(REPLY, media_type="text/xml")


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Capture]]:
    capture = Capture()
    provider = start_server(Starlette(routes=[Route("/{path:path}", capture.handle, methods=["POST"])]))
    tmp = tmp_path_factory.mktemp("passthrough-callers")
    app = create_app(Settings.load(database_url=f"sqlite:///{tmp / 'p.db'}", access_log=False))
    # On SERVICE the caller may run the business lookup only; on OPEN every operation.
    apply(app.runtime.engine, parse_registry_file(f"""
agencies:
  - {{code: {CITY}, name: UBND Cần Thơ}}
  - {{code: {NATIONAL}, name: Văn phòng Chính phủ}}
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: {NATIONAL}/NGSP, name: NGSP, client: false, provider: true}}
services:
  - {{id: {SERVICE}, name: Capture, kind: soap, base_url: "{provider.url}", wsdl_path: wsdl/ngsp/ngsp.wsdl,
      timeout_seconds: 3, retry_attempts: 0}}
  - {{id: {OPEN}, name: Capture, kind: soap, base_url: "{provider.url}", wsdl_path: wsdl/ngsp/ngsp.wsdl,
      timeout_seconds: 3, retry_attempts: 0}}
grants:
  - {{client: {CLIENT}, service: {SERVICE}, methods: [POST], path: TraCuuDoanhNghiep}}
  - {{client: {CLIENT}, service: {OPEN}, methods: [POST], path: "*"}}
"""))
    cred = create_client(app.runtime.engine, CLIENT, ["gateway"])
    app.runtime.registry_changed()
    gateway = start_server(app)
    with httpx.Client(base_url=gateway.url, timeout=20) as http:
        token = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(cred.client_id, cred.client_secret)).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield http, capture
    gateway.stop()
    provider.stop()
    app.runtime.engine.dispose()


def _post(gw: tuple[httpx.Client, Capture], body: bytes, content_type: str = "text/xml; charset=utf-8",
          path: str = "TraCuuDoanhNghiep", service: str = SERVICE,
          **headers: str) -> tuple[httpx.Response, list[tuple[dict[str, str], bytes]]]:
    http, capture = gw
    capture.seen.clear()
    response = http.post(f"/services/{service}/{path}", content=body, headers={"Content-Type": content_type, **headers})
    return response, list(capture.seen)


def _fault_kind(response: httpx.Response) -> str:
    return etree.fromstring(response.content).findtext(".//{urn:lgsp:fault:v1}type") or ""


def _envelope(body: str, header: str = "", ns: str = S11) -> bytes:
    return f'<s:Envelope xmlns:s="{ns}" {XRD_DECL}>{header}<s:Body>{body}</s:Body></s:Envelope>'.encode()


def test_a_second_header_with_a_spoofed_client_never_reaches_the_provider(gw: tuple[httpx.Client, Capture]) -> None:
    spoof = ('<s:Header/><s:Header><xrd:client id:objectType="SUBSYSTEM"><id:xRoadInstance>VN</id:xRoadInstance>'
             "<id:memberClass>GOV</id:memberClass><id:memberCode>SPOOFED</id:memberCode></xrd:client></s:Header>")
    response, seen = _post(gw, _envelope(LOOKUP, spoof))
    assert response.status_code == 400 and _fault_kind(response).endswith("/bad-request"), response.text
    assert seen == []


@pytest.mark.parametrize("envelope", [
    f'<s:Envelope xmlns:s="{S11}"><s:Header/></s:Envelope>',
    f'<s:Envelope xmlns:s="{S11}"><s:Body>{LOOKUP}</s:Body><s:Body>{LOOKUP}</s:Body></s:Envelope>',
    f'<s:Envelope xmlns:s="{S11}"><s:Body>{LOOKUP}</s:Body><s:Header/></s:Envelope>',
    f'<s:Envelope xmlns:s="{S11}"><s:Body>{LOOKUP}{LOOKUP}</s:Body></s:Envelope>',
    f'<s:Envelope xmlns:s="{S11}"><s:Body>text only</s:Body></s:Envelope>',
], ids=["no-body", "two-bodies", "header-after-body", "two-operations", "no-operation"])
def test_a_malformed_envelope_is_a_fault_not_forwarded(gw: tuple[httpx.Client, Capture], envelope: str) -> None:
    response, seen = _post(gw, envelope.encode())
    assert response.status_code == 400 and _fault_kind(response).endswith("/bad-request"), response.text
    assert seen == []


def test_a_callers_user_id_is_dropped_when_lgsp_has_none(gw: tuple[httpx.Client, Capture]) -> None:
    header = "<s:Header><xrd:userId>giam-doc-so</xrd:userId><xrd:protocolVersion>3.1</xrd:protocolVersion></s:Header>"
    response, seen = _post(gw, _envelope(LOOKUP, header))
    assert response.status_code == 200, response.text
    forwarded = etree.fromstring(seen[0][1]).find(f"{{{S11}}}Header")
    assert forwarded.findall(f"{{{XRD}}}userId") == []
    assert [e.text for e in forwarded.findall(f"{{{XRD}}}protocolVersion")] == ["4.0"]


def test_the_body_must_be_the_operation_of_the_granted_path(gw: tuple[httpx.Client, Capture]) -> None:
    """Granted TraCuuDoanhNghiep only: a Body of XacThucThongTinCongDan posted there ran at the provider."""
    response, seen = _post(gw, _envelope(VERIFY))
    assert response.status_code == 400 and _fault_kind(response).endswith("/bad-request"), response.text
    assert seen == []
    # At the service root the Body names the operation (and its serviceCode).
    response, seen = _post(gw, _envelope(VERIFY), path="")
    assert response.status_code == 403 and _fault_kind(response).endswith("/forbidden"), response.text
    assert seen == []
    response, seen = _post(gw, _envelope(LOOKUP), path="", service=OPEN)
    assert response.status_code == 200, response.text
    service = etree.fromstring(seen[0][1]).find(f"{{{S11}}}Header/{{{XRD}}}service")
    assert service.findtext("{http://x-road.eu/xsd/identifiers}serviceCode") == "TraCuuDoanhNghiep"


def test_an_operation_not_in_the_wsdl_is_unknown(gw: tuple[httpx.Client, Capture]) -> None:
    response, seen = _post(gw, _envelope('<n:Xoa xmlns:n="urn:lgsp:ngsp:v1"/>'), path="", service=OPEN)
    assert response.status_code == 404 and _fault_kind(response).endswith("/unknown-operation"), response.text
    assert seen == []
    response, seen = _post(gw, _envelope(LOOKUP), path="Xoa", service=OPEN)
    assert response.status_code == 404 and _fault_kind(response).endswith("/unknown-operation"), response.text
    assert seen == []


def test_a_soap_action_naming_another_operation_is_refused(gw: tuple[httpx.Client, Capture]) -> None:
    response, seen = _post(gw, _envelope(LOOKUP), SOAPAction='"urn:lgsp:ngsp:v1#XacThucThongTinCongDan"')
    assert response.status_code == 400 and b"SOAP action" in response.content, response.text
    assert seen == []
    response, seen = _post(gw, _envelope(LOOKUP), SOAPAction='"urn:lgsp:ngsp:v1#TraCuuDoanhNghiep"')
    assert response.status_code == 200 and len(seen) == 1, response.text


def test_soap12_callers_get_soap12_faults_and_the_version_must_match(gw: tuple[httpx.Client, Capture]) -> None:
    soap12 = 'application/soap+xml; charset=utf-8; action="urn:lgsp:ngsp:v1#XacThucThongTinCongDan"'
    response, seen = _post(gw, _envelope(LOOKUP, ns=S12), content_type=soap12)
    assert response.status_code == 400 and seen == []
    assert response.headers["content-type"].startswith("application/soap+xml")
    assert etree.fromstring(response.content).tag == f"{{{S12}}}Envelope"
    # a 1.1 envelope labelled as 1.2
    response, seen = _post(gw, _envelope(LOOKUP), content_type="application/soap+xml; charset=utf-8")
    assert response.status_code == 400 and b"SOAP 1.1 envelope" in response.content and seen == []
    response, seen = _post(gw, _envelope(LOOKUP, ns=S12), content_type="application/soap+xml; charset=utf-8")
    assert response.status_code == 200, response.text
    assert seen[0][0]["content-type"].startswith("application/soap+xml; charset=utf-8")


@pytest.mark.parametrize("charset", ["utf-16", "iso-8859-1"])
def test_the_forwarded_envelope_is_labelled_with_the_encoding_it_is_in(gw: tuple[httpx.Client, Capture],
                                                                       charset: str) -> None:
    """lgsp re-serialises the envelope as UTF-8; the caller's charset label went on with it unchanged."""
    text = ('<n:TraCuuDoanhNghiep xmlns:n="urn:lgsp:ngsp:v1"><n:MaSoThue>1800000018</n:MaSoThue>'
            "<!-- Hậu Giang --></n:TraCuuDoanhNghiep>" if charset == "utf-16" else LOOKUP)
    body = (f'<?xml version="1.0" encoding="{charset}"?>' + _envelope(text).decode()).encode(charset)
    response, seen = _post(gw, body, content_type=f"text/xml; charset={charset}")
    assert response.status_code == 200, response.text
    headers, forwarded = seen[0]
    assert headers["content-type"] == "text/xml; charset=utf-8"
    assert forwarded.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert etree.fromstring(forwarded).find(f"{{{S11}}}Body/{{urn:lgsp:ngsp:v1}}TraCuuDoanhNghiep") is not None


def test_mtom_is_refused_clearly(gw: tuple[httpx.Client, Capture]) -> None:
    http, capture = gw
    capture.seen.clear()
    response = http.post(f"/services/{SERVICE}/TraCuuDoanhNghiep", content=b"--b\r\n\r\n<x/>\r\n--b--",
                         headers={"Content-Type": 'multipart/related; type="application/xop+xml"; boundary=b'})
    assert response.status_code == 415, response.text
    assert response.json()["type"].endswith("/unsupported-media-type") and capture.seen == []


def test_a_soap_caller_refused_before_routing_still_gets_a_fault(gw: tuple[httpx.Client, Capture]) -> None:
    response, seen = _post(gw, _envelope(LOOKUP), **{"X-LGSP-User-Id": "u" * 5000})
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/xml"), response.text
    assert _fault_kind(response).endswith("/bad-request") and seen == []


def test_comments_pis_bom_and_redefined_prefixes_pass(gw: tuple[httpx.Client, Capture]) -> None:
    body = (b"\xef\xbb\xbf" + b'<?xml version="1.0" standalone="yes"?><!-- c --><?pi x?>'
            + f'<s:Envelope xmlns:s="{S11}"><s:Body><s:TraCuuDoanhNghiep xmlns:s="urn:lgsp:ngsp:v1">'
              f"<s:MaSoThue>1800000018</s:MaSoThue></s:TraCuuDoanhNghiep></s:Body></s:Envelope>".encode())
    response, seen = _post(gw, body)
    assert response.status_code == 200 and len(seen) == 1, response.text


def test_a_second_soap_action_or_a_ws_addressing_action_cannot_name_another_operation(
        gw: tuple[httpx.Client, Capture]) -> None:
    """Only the first SOAPAction was checked and both went on; wsa:Action (WCF dispatches on it) was not."""
    http, capture = gw
    capture.seen.clear()
    right, wrong = '"urn:lgsp:ngsp:v1#TraCuuDoanhNghiep"', '"urn:lgsp:ngsp:v1#XacThucThongTinCongDan"'
    response = http.post(f"/services/{SERVICE}/TraCuuDoanhNghiep", content=_envelope(LOOKUP),
                         headers=[("Content-Type", "text/xml; charset=utf-8"), ("SOAPAction", right),
                                  ("SOAPAction", wrong)])
    assert response.status_code == 400 and capture.seen == [], response.text
    wsa = ('<s:Header><wsa:Action xmlns:wsa="http://www.w3.org/2005/08/addressing">'
           "urn:lgsp:ngsp:v1#XacThucThongTinCongDan</wsa:Action></s:Header>")
    response, seen = _post(gw, _envelope(LOOKUP, wsa))
    assert response.status_code == 400 and seen == [], response.text
    # the provider gets the one action that was checked, also when the caller sent none
    response, seen = _post(gw, _envelope(LOOKUP))
    assert response.status_code == 200 and seen[0][0]["soapaction"] == right, response.text


@pytest.mark.parametrize("content_type", ["text/xml; charset=utf-8", "application/json"])
def test_a_compressed_request_is_refused_as_such(gw: tuple[httpx.Client, Capture], content_type: str) -> None:
    """lgsp must read the body: gzip was refused as malformed XML or JSON, and a plain body labelled gzip
    went on to the provider with the label."""
    body = _envelope(LOOKUP) if content_type.startswith("text/xml") else b'{"MaSoThue": "1800000018"}'
    for sent in (gzip.compress(body), body):
        response, seen = _post(gw, sent, content_type=content_type, **{"Content-Encoding": "gzip"})
        assert response.status_code == 415 and b"Content-Encoding" in response.content, response.text
        assert seen == []
