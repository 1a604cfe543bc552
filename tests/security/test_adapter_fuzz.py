"""Bounded, deterministic fuzz of the adapters' entry points through the gateway, over real HTTP, both stores.

* ``POST /dossiers/events`` (DVCQG intake, a real DVCQG simulator behind it): whatever the body, headers
  or content type, the answer is a 202 or a 4xx problem+json, never a 5xx; every 202 is then delivered (or
  dead-lettered for a reason the sender can read on ``GET /dossiers/events/{id}``), never lost.
* ``POST /services/{NGSP}/{operation}`` with JSON (mediated to SOAP, the NGSP simulator behind it) and with
  a SOAP envelope (pass-through): a 2xx/4xx, problem+json for JSON callers and a SOAP Fault for SOAP callers.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.dvcqg import DvcqgSettings, StatusMapping
from adapters.dvcqg import delivery as dvcqg
from adapters.dvcqg.seed import SAMPLE_PROCEDURE_CODE
from adapters.dvcqg.simulator import DvcqgSimulator, SimulatorConfig
from lgsp.delivery.claims import open_count
from lgsp.delivery.handlers import HandlerRegistry
from lgsp.delivery.settings import DeliverySettings
from lgsp.delivery.worker import DeliveryWorker
from lgsp.testing.servers import RunningServer, start_server
from tests.security.conftest import CITY, NGSP, PROBLEM, Stack

FUZZ = settings(derandomize=True, deadline=None, database=None, max_examples=100,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
MAPPING = Path(__file__).parents[2] / "adapters" / "dvcqg" / "status_mapping.example.yaml"
FAST = DeliverySettings(max_attempts=3, lease_seconds=30, backoff_base_seconds=0.01, backoff_max_seconds=0.05,
                        poll_seconds=0.05)
S11 = "http://schemas.xmlsoap.org/soap/envelope/"
FAULT_NS = "urn:lgsp:fault:v1"

awkward_text = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\x0b", "\x1f", "\x7f", "\ufffe", "\uffff", "\ud800", "\udfff", "\U0010ffff",
    "\U0001f600", "<x/>&amp;", "]]>", "'; DROP TABLE outbox; --", "\u202e", "a" * 400, "9" * 40, "\r\n", "%00",
    "..\\..", "20251126081500", "99991231235959", "00000000000000", "2025-11-26", "1", "4", "11", "-1", "receiving",
    "processing/waiting_fee", "done",
]) | st.text(max_size=12)
scalars = (st.none() | st.booleans() | st.integers(min_value=-(10**40), max_value=10**40)
           | st.floats(allow_nan=True, allow_infinity=True) | awkward_text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(awkward_text, inner, max_size=3), max_leaves=6)
DOSSIER_KEYS = ["MaHoSo", "MaTTHC", "TenTTHC", "ChuHoSo", "LoaiDoiTuong", "TrichYeuHoSo", "NgayTiepNhan",
                "NgayHenTra", "HinhThuc", "DonViXuLy", "TrangThaiHoSo", "NgayTra", "TaiLieuNop", "DanhSachLePhi",
                "DanhSachHoSoBoSung", "GhiChu", "Email"]
keys = st.sampled_from(DOSSIER_KEYS) | awkward_text


@dataclass
class Dvcqg:
    stack: Stack
    portal: RunningServer
    sim: DvcqgSimulator
    config: dvcqg.DvcqgConfig
    token: str
    accepted: list[tuple[str, str]] = field(default_factory=list)  # (message id, dossier code)


@pytest.fixture(scope="module")
def dv(stack: Stack) -> Iterator[Dvcqg]:
    username, password = "lgsp-" + secrets.token_hex(4), secrets.token_urlsafe(16)
    sim = DvcqgSimulator(SimulatorConfig(username=username, password=password, madonvi=CITY))
    portal = start_server(sim.app)
    config = dvcqg.DvcqgConfig(
        DvcqgSettings(adapter_url=portal.url, username=username, password=password, madonvi=CITY, timeout=5),
        StatusMapping.from_file(MAPPING))
    stack.app.api.state.dvcqg_checker = dvcqg.make_checker(config)
    yield Dvcqg(stack, portal, sim, config, stack.token())
    del stack.app.api.state.dvcqg_checker
    portal.stop()


def event(n: int) -> dict[str, Any]:
    return {"local_status": "receiving", "occurred_at": "20251126081500",
            "dossier": {"MaHoSo": f"{CITY}-251126-{n:06d}", "MaTTHC": SAMPLE_PROCEDURE_CODE, "ChuHoSo": "Lê Văn C",
                        "LoaiDoiTuong": "1", "TrichYeuHoSo": "Đăng ký khai sinh", "NgayTiepNhan": "20251126080000",
                        "NgayHenTra": "20251201170000", "HinhThuc": "0", "DonViXuLy": "UBND phường An Hòa"},
            "progress": {"NguoiXuLy": "Phạm Thị D", "NoiDungXuLy": "Tiếp nhận hồ sơ"}}


def mutated(n: int, where: str, key: str, value: Any, drop: bool) -> Any:
    body = event(n)
    if where == "none":
        return body
    if where == "whole":
        return value
    target = body if where == "top" else body["dossier"] if where == "dossier" else body["progress"]
    if where == "nested":
        target = body["dossier"]
        target["TaiLieuNop"] = [{"TenTepDinhKem": "a.pdf", key: value}]
    elif drop:
        target.pop(key, None)
    else:
        target[key] = value
    return body


def encoded(body: Any, cut: int | None, junk: bytes, raw_surrogates: bool) -> bytes:
    text = json.dumps(body, ensure_ascii=not raw_surrogates, allow_nan=True)
    data = text.encode("utf-8", "surrogatepass")
    if cut is not None:
        data = data[:cut] + junk + data[cut:]
    return data


def assert_answer(reply: httpx.Response) -> None:
    """A 2xx, or a 4xx problem+json with the status it says; never a 5xx."""
    assert reply.status_code < 500, reply.text
    if reply.status_code >= 400:
        assert reply.headers["content-type"].startswith(PROBLEM), reply.headers
        problem = reply.json()
        assert problem["status"] == reply.status_code and problem["type"].startswith("https://lgsp.dev/problems/")


@FUZZ
@given(n=st.integers(min_value=0, max_value=40), where=st.sampled_from(["none", "top", "dossier", "progress",
                                                                       "nested", "whole"]),
       key=keys, value=json_values, drop=st.booleans(),
       cut=st.none() | st.integers(min_value=0, max_value=600), junk=st.binary(max_size=6), raw=st.booleans(),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "application/x+json",
                                     "application/json; charset=latin-1", "text/plain", "application/jsonx"]),
       key_header=st.none() | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=210))
def test_dossier_intake_answers_2xx_or_a_problem(dv: Dvcqg, n: int, where: str, key: str, value: Any, drop: bool,
                                                 cut: int | None, junk: bytes, raw: bool, content_type: str,
                                                 key_header: str | None) -> None:
    body = encoded(mutated(n, where, key, value, drop), cut, junk, raw)
    headers = {"Authorization": f"Bearer {dv.token}", "Content-Type": content_type}
    if key_header is not None:
        headers["Idempotency-Key"] = key_header
    reply = dv.stack.http.post("/dossiers/events", content=body, headers=headers)
    assert_answer(reply)
    if reply.status_code == 202:
        answer = reply.json()
        dv.accepted.append((answer["message_id"], answer["dossier"]))


async def test_every_accepted_event_is_delivered_or_says_why_not(dv: Dvcqg) -> None:
    """Runs after the fuzz above (file order): nothing it got a 202 for is lost."""
    assert dv.accepted, "the fuzz accepted nothing: it did not exercise the delivery path"
    handlers = HandlerRegistry({dvcqg.KIND: dvcqg.make_handler(dv.stack.engine, dv.config)})
    try:
        await DeliveryWorker(dv.stack.engine, handlers, FAST).run_until(
            lambda: open_count(dv.stack.engine, [dvcqg.KIND]) == 0)
    finally:
        await handlers.aclose()
    reasons = []
    for message_id, code in dv.accepted:
        reply = dv.stack.http.get(f"/dossiers/events/{message_id}", headers={"Authorization": f"Bearer {dv.token}"})
        assert reply.status_code == 200, reply.text
        state = reply.json()
        assert state["state"] in ("delivered", "dead"), state
        if state["state"] == "delivered":
            assert code in dv.sim.dossiers
        else:
            reasons.append(state["last_error"])
    print("accepted", len(dv.accepted), "dead", reasons)


@FUZZ
@given(message_id=st.text(max_size=60) | st.sampled_from(["..", "%2e%2e", "%00", "a/b", "x" * 5000, "\ud800", "\x00"]),
       raw=st.booleans())
def test_the_event_status_answers_for_any_id(dv: Dvcqg, message_id: str, raw: bool) -> None:
    encoded_id = message_id if raw and message_id.isascii() and message_id.isprintable() and " " not in message_id \
        else quote(message_id.encode("utf-8", "surrogatepass"), safe="")
    reply = dv.stack.http.get("/dossiers/events/" + encoded_id, headers={"Authorization": f"Bearer {dv.token}"})
    assert_answer(reply)
    assert reply.status_code != 200 or reply.json()["message_id"] == message_id


# ---- NGSP: JSON mediated to SOAP, and SOAP envelopes passed through ----------------------------------------

VERIFY = {"SoDinhDanh": "092090000101", "HoVaTen": "Nguyễn Văn An", "NgaySinh": "1990-01-15"}
OPERATIONS = st.sampled_from(["XacThucThongTinCongDan", "TraCuuDoanhNghiep"]) | st.sampled_from(
    ["KhongCo", "", "..", "XacThucThongTinCongDan/schema", "%00", "a%2Fb", "Xac%C3%A9", "TraCuuDoanhNghiep;x"])
ngsp_keys = st.sampled_from(["SoDinhDanh", "HoVaTen", "NgaySinh", "MaSoThue", "xmlns", "a:b", "1x", ""]) | awkward_text


@FUZZ
@given(operation=OPERATIONS, key=ngsp_keys, value=json_values, whole=st.booleans(),
       cut=st.none() | st.integers(min_value=0, max_value=120), junk=st.binary(max_size=4),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-16", "text/plain"]))
def test_ngsp_json_calls_answer_2xx_or_a_problem(stack: Stack, dv: Dvcqg, operation: str, key: str, value: Any,
                                                 whole: bool, cut: int | None, junk: bytes,
                                                 content_type: str) -> None:
    body = encoded(value if whole else {**VERIFY, key: value}, cut, junk, raw_surrogates=False)
    reply = stack.http.post(f"/services/{NGSP}/{operation}", content=body,
                            headers={"Authorization": f"Bearer {dv.token}", "Content-Type": content_type})
    assert_answer(reply)
    if reply.status_code < 300:
        assert reply.headers["content-type"].startswith("application/json")


def envelope(inner: str, operation: str = "XacThucThongTinCongDan") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{S11}"><s:Body>'
            f'<n:{operation} xmlns:n="urn:lgsp:ngsp:v1">{inner}</n:{operation}></s:Body></s:Envelope>').encode()


xml_text = awkward_text | st.sampled_from(["&#0;", "&#x1;", "&#xFFFE;", "&#xD800;", "&amp;", "&lt;", "&nbsp;",
                                           "<![CDATA[x]]>", "<!-- c -->", "<?pi x?>", "</n:SoDinhDanh>", "&xxe;"])


@FUZZ
@given(fields=st.lists(st.tuples(st.sampled_from(["SoDinhDanh", "HoVaTen", "NgaySinh", "MaSoThue", "X"]), xml_text),
                       max_size=4),
       operation=st.sampled_from(["XacThucThongTinCongDan", "TraCuuDoanhNghiep", "KhongCo"]),
       path=st.sampled_from(["XacThucThongTinCongDan", "TraCuuDoanhNghiep", "", "KhongCo"]),
       cut=st.none() | st.integers(min_value=0, max_value=300), junk=st.binary(max_size=4),
       content_type=st.sampled_from(["text/xml; charset=utf-8", "text/xml", "application/soap+xml",
                                     "text/xml; charset=latin-1"]),
       action=st.none() | st.sampled_from(['""', '"urn:x"', "XacThucThongTinCongDan", '"\\u00e9"']))
def test_ngsp_soap_calls_answer_soap_or_a_fault(stack: Stack, dv: Dvcqg, fields: list[tuple[str, str]],
                                                operation: str, path: str, cut: int | None, junk: bytes,
                                                content_type: str, action: str | None) -> None:
    inner = "".join(f"<n:{name}>{text}</n:{name}>" for name, text in fields)
    body = envelope(inner.replace("\ud800", "&#xD800;").replace("\udfff", "&#xDFFF;"), operation)
    if cut is not None:
        body = body[:cut] + junk + body[cut:]
    headers = {"Authorization": f"Bearer {dv.token}", "Content-Type": content_type}
    if action is not None:
        headers["SOAPAction"] = action
    reply = stack.http.post(f"/services/{NGSP}/{path}".rstrip("/"), content=body, headers=headers)
    assert_soap_answer(reply)


def assert_soap_answer(reply: httpx.Response) -> None:
    """A 2xx SOAP reply; a 4xx lgsp Fault (or problem+json when refused before lgsp knew it was a SOAP
    caller); or the provider's own Fault passed through, HTTP 500 as SOAP 1.1 has it. Never lgsp's 5xx."""
    if reply.status_code < 400:
        return
    kind = reply.headers["content-type"]
    if kind.startswith(PROBLEM):
        assert reply.status_code < 500 and reply.json()["status"] == reply.status_code, reply.text
        return
    assert kind.startswith(("text/xml", "application/soap+xml")), kind
    root = etree.fromstring(reply.content)
    assert root.find(".//{*}Fault") is not None, reply.text
    lgsp_kind = root.findtext(f".//{{{FAULT_NS}}}type")
    if lgsp_kind is not None:  # lgsp's own Fault: a 4xx kind (circuit-open was one caller's garbage, for all)
        assert reply.status_code < 500, reply.text
    else:  # the provider's, passed on: the simulator blames the caller
        assert reply.status_code == 500 and root.findtext(".//faultcode", "").endswith("Client"), reply.text


def test_a_callers_invalid_envelopes_do_not_pause_the_service_for_everyone(stack: Stack, dv: Dvcqg) -> None:
    """The provider answers a schema-invalid envelope with a Client Fault, HTTP 500 (SOAP 1.1 has no other).
    Counted as the provider failing, five of them opened the circuit: every caller got 503 for 30 s."""
    headers = {"Authorization": f"Bearer {dv.token}", "Content-Type": "text/xml; charset=utf-8"}
    for _ in range(8):
        reply = stack.http.post(f"/services/{NGSP}/XacThucThongTinCongDan", content=envelope(""), headers=headers)
        assert reply.status_code == 500 and b"SCHEMA_INVALID" in reply.content, reply.text
    good = stack.http.post(f"/services/{NGSP}/XacThucThongTinCongDan", json=VERIFY,
                           headers={"Authorization": f"Bearer {dv.token}"})
    assert good.status_code == 200, good.text
    breakers = stack.app.runtime.breakers
    assert all(breakers.state(provider) == "closed" for provider in breakers.providers())


@pytest.mark.parametrize(("body", "blames_caller"), [
    (f'<s:Envelope xmlns:s="{S11}"><s:Body><s:Fault><faultcode>s:Client</faultcode></s:Fault></s:Body></s:Envelope>',
     True),
    (f'<e:Envelope xmlns:e="{S11}"><e:Body><e:Fault><faultcode>e:Client.Auth</faultcode></e:Fault></e:Body>'
     "</e:Envelope>", True),
    (f'<s:Envelope xmlns:s="{S11}"><s:Body><s:Fault><faultcode>s:Server</faultcode></s:Fault></s:Body></s:Envelope>',
     False),
    ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender'
     "</s:Value></s:Code></s:Fault></s:Body></s:Envelope>", True),
    ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Receiver'
     "</s:Value></s:Code></s:Fault></s:Body></s:Envelope>", False),
    (f'<s:Envelope xmlns:s="{S11}"><s:Body><x/></s:Body></s:Envelope>', False),
    ("<faultcode>Client</faultcode>", False), ("Service Unavailable", False), ("", False),
    (f'<!DOCTYPE x><s:Envelope xmlns:s="{S11}"><s:Body><s:Fault><faultcode>s:Client</faultcode></s:Fault></s:Body>'
     "</s:Envelope>", False),
])
def test_which_faults_blame_the_caller(body: str, blames_caller: bool) -> None:
    from lgsp.mediation.soapenv import is_caller_fault

    assert is_caller_fault(body.encode()) is blames_caller


def test_a_provider_that_fails_still_opens_the_circuit(stack: Stack, dv: Dvcqg) -> None:
    """Server Faults (the provider failing) count as before: the sixth call is refused without reaching it.
    Last in the file: it leaves the circuit open, and closes it again for the module's other users."""
    from sqlalchemy.orm import Session

    from registry.models import Service

    with Session(stack.engine) as session:
        service = session.get(Service, NGSP)
        assert service is not None
        simulator = service.base_url
    assert httpx.post(simulator + "/admin/inject", json={"mode": "fault", "count": 5}).status_code == 200
    headers = {"Authorization": f"Bearer {dv.token}", "Content-Type": "text/xml; charset=utf-8"}
    inner = "".join(f"<n:{k}>{v}</n:{k}>" for k, v in VERIFY.items())
    try:
        for _ in range(5):
            reply = stack.http.post(f"/services/{NGSP}/XacThucThongTinCongDan", content=envelope(inner),
                                    headers=headers)
            assert reply.status_code == 500 and b"NGSP-503" in reply.content, reply.text
        refused = stack.http.post(f"/services/{NGSP}/XacThucThongTinCongDan", content=envelope(inner), headers=headers)
        assert refused.status_code == 503 and b"circuit-open" in refused.content, refused.text
    finally:
        httpx.request("DELETE", simulator + "/admin/inject")
        stack.app.runtime.breakers.record_success(simulator)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/documents/%00"), ("GET", "/documents/a%00b/packet"), ("PUT", "/documents/%00/status"),
    ("PUT", "/documents/%ED%A0%80/status"), ("GET", "/documents?agency=%00"),
    ("GET", "/documents?agency=000.00.12.H10%00"), ("GET", "/documents?after=%00"),
])
def test_document_ids_no_store_can_hold_are_4xx(stack: Stack, dv: Dvcqg, method: str, path: str) -> None:
    """The VDXP document façade had the DVCQG status route's fault: NUL in an id, an agency or a cursor went
    into the query (and, for PUT, into the audited path): a 500 on PostgreSQL."""
    reply = stack.http.request(method, path, content=b'{"status": "DONE"}',
                               headers={"Authorization": f"Bearer {dv.token}", "Content-Type": "application/json"})
    assert_answer(reply)
    assert reply.status_code in (404, 422), reply.text
