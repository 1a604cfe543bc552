"""SOAP<->REST mediation through the gateway against the real NGSP SOAP simulator on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.ngsp.simulator import create_simulator_app
from lgsp.app import create_app
from lgsp.auth.clients import create_client
from lgsp.settings import Settings
from lgsp.testing.servers import start_server
from registry.declarative import apply, parse_registry_file

CITY, NATIONAL = "000.00.12.H10", "000.00.00.G22"
CLIENT = f"{CITY}/MOTCUA"
NGSP = f"{NATIONAL}/NGSP/csdl-quoc-gia"
FAULT_NS = "urn:lgsp:fault:v1"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str]]:
    simulator = start_server(create_simulator_app())
    tmp = tmp_path_factory.mktemp("mediation")
    settings = Settings.load(database_url=f"sqlite:///{tmp / 'm.db'}", access_log=False)
    app = create_app(settings)
    apply(app.runtime.engine, parse_registry_file(f"""
agencies:
  - {{code: {CITY}, name: UBND Cần Thơ}}
  - {{code: {NATIONAL}, name: Văn phòng Chính phủ}}
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: {NATIONAL}/NGSP, name: NGSP, client: false, provider: true}}
services:
  - {{id: {NGSP}, name: CSDL quốc gia, kind: soap, base_url: "{simulator.url}", wsdl_path: wsdl/ngsp/ngsp.wsdl,
      timeout_seconds: 3, retry_attempts: 0}}
grants:
  - {{client: {CLIENT}, service: {NGSP}, methods: [GET, POST]}}
"""))
    cred = create_client(app.runtime.engine, CLIENT, ["gateway"])
    app.runtime.registry_changed()
    gateway = start_server(app)
    with httpx.Client(base_url=gateway.url, timeout=20) as http:
        token = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(cred.client_id, cred.client_secret)).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        http.headers["X-LGSP-User-Id"] = "can-bo-07"
        yield http, simulator.url
    gateway.stop()
    simulator.stop()
    app.runtime.engine.dispose()


def test_rest_call_is_mediated_to_soap_and_back(gw: tuple[httpx.Client, str]) -> None:
    http, simulator = gw
    response = http.post(f"/services/{NGSP}/XacThucThongTinCongDan",
                         json={"SoDinhDanh": "092090000101", "HoVaTen": "Nguyễn Văn An", "NgaySinh": "1990-01-15"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["KetQuaXacThuc"] is True
    assert isinstance(body.get("TruongKhongKhop", []), list)
    assert int(response.headers["x-lgsp-audit-index"]) >= 0
    seen = httpx.get(simulator + "/admin/requests").json()
    last = seen["received"][-1]
    text = str(last)
    assert CLIENT.split("/")[0] in text and "MOTCUA" in text and "can-bo-07" in text
    assert response.headers["x-lgsp-message-id"] in text  # X-Road id = lgsp message id


def test_business_lookup_keeps_types(gw: tuple[httpx.Client, str]) -> None:
    http, _ = gw
    response = http.post(f"/services/{NGSP}/TraCuuDoanhNghiep", json={"MaSoThue": "1800000018"})
    assert response.status_code == 200, response.text
    text = response.text
    assert "15000000000.00" in text  # decimal kept exactly, not a float
    assert "2011-04-18" in text


def test_json_not_matching_the_schema_names_the_field(gw: tuple[httpx.Client, str]) -> None:
    http, _ = gw
    response = http.post(f"/services/{NGSP}/XacThucThongTinCongDan",
                         json={"SoDinhDanh": "12", "HoVaTen": "A", "NgaySinh": "15/01/1990"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/mediation-input-invalid")
    fields = {e["field"] for e in problem["errors"]}
    assert "SoDinhDanh" in fields and "NgaySinh" in fields


def test_unknown_operation_and_schema_and_openapi(gw: tuple[httpx.Client, str]) -> None:
    http, _ = gw
    assert http.post(f"/services/{NGSP}/KhongCo", json={}).json()["type"].endswith("/unknown-operation")
    schema = http.get(f"/services/{NGSP}/XacThucThongTinCongDan/schema")
    assert schema.status_code == 200
    assert "SoDinhDanh" in str(schema.json()["input"])
    document = http.get(f"/services/{NGSP}/openapi.json").json()
    assert document["openapi"].startswith("3.") and any("XacThucThongTinCongDan" in p for p in document["paths"])


def test_soap_fault_and_html_error_become_problems(gw: tuple[httpx.Client, str]) -> None:
    http, _ = gw
    fault = http.post(f"/services/{NGSP}/XacThucThongTinCongDan",
                      json={"SoDinhDanh": "092090000101", "HoVaTen": "Nguyễn Văn An", "NgaySinh": "1990-01-15"},
                      headers={"X-Ngsp-Sim-Inject": "fault"})
    assert fault.status_code == 502 and fault.json()["type"].endswith("/soap-fault")
    html = http.post(f"/services/{NGSP}/XacThucThongTinCongDan",
                     json={"SoDinhDanh": "092090000101", "HoVaTen": "Nguyễn Văn An", "NgaySinh": "1990-01-15"},
                     headers={"X-Ngsp-Sim-Inject": "html"})
    assert html.status_code == 502 and html.json()["type"].endswith("/upstream-bad-response")


def test_soap_passthrough_adds_lgsp_headers(gw: tuple[httpx.Client, str]) -> None:
    http, _ = gw
    envelope = Path(__file__).with_name("ngsp_request.xml").read_bytes()
    response = http.post(f"/services/{NGSP}/XacThucThongTinCongDan", content=envelope,
                         headers={"Content-Type": "text/xml; charset=utf-8"})
    assert response.status_code == 200, response.text
    assert b"KetQuaXacThuc" in response.content and b"MOTCUA" in response.content
    assert b"forged-member" not in response.content  # the caller's own X-Road client header was replaced
    denied = httpx.post(str(http.base_url) + f"/services/{NGSP}/XacThucThongTinCongDan", content=envelope,
                        headers={"Content-Type": "text/xml"})
    assert denied.status_code == 401 and denied.headers["content-type"].startswith("text/xml")
    assert FAULT_NS.encode() in denied.content and b"unauthenticated" in denied.content


def test_soap_element_bomb_is_refused_before_parsing(gw: tuple[httpx.Client, str]) -> None:
    """Issue 19.3: a pass-through envelope over the soap entry point's element bound (100 000) is a 413."""
    http, _ = gw
    bomb = (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x>' + b"<a/>" * 150_000
            + b"</x></s:Body></s:Envelope>")
    response = http.post(f"/services/{NGSP}/XacThucThongTinCongDan", content=bomb,
                         headers={"Content-Type": "text/xml; charset=utf-8"})
    assert response.status_code == 413, response.text
    assert FAULT_NS.encode() in response.content and b"payload-too-large" in response.content
