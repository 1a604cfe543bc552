"""Conformance of an NGSP-style SOAP endpoint: WSDL, schema-valid answers, faults, X-Road header echo.

Requests are written by hand with lxml (not with lgsp's mediation) so this suite checks the endpoint,
not our own client. Lookup values are random but well-formed, so the suite also runs against a real
system: "not found" answers must be schema-valid too.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
import xmlschema
import zeep
from lxml import etree

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
XSD = "http://www.w3.org/2001/XMLSchema"
XRD = "http://x-road.eu/xsd/xroad.xsd"
IDN = "http://x-road.eu/xsd/identifiers"
NS = "urn:lgsp:ngsp:v1"
OPERATIONS = {"XacThucThongTinCongDan", "TraCuuDoanhNghiep"}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _xml(data: bytes) -> etree._Element:
    """The answer as XML, or a failed check that says so (lxml's error alone reads ``File "<string>"``)."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise AssertionError(f"the answer is not well-formed XML ({str(exc)[:200]}): {data[:120]!r}") from None
    assert root.getroottree().docinfo.internalDTD is None, "DTDs are not acceptable in SOAP"
    return root


def _headers(client: list[str], provider: list[str], operation: str, message_id: str) -> str:
    def ids(values: list[str], tags: list[str]) -> str:
        return "".join(f"<id:{t}>{v}</id:{t}>" for t, v in zip(tags, values, strict=False))

    base = ["xRoadInstance", "memberClass", "memberCode", "subsystemCode"]
    service = ids([*provider, operation, "v1"], [*base, "serviceCode", "serviceVersion"])
    return (
        f'<xrd:client id:objectType="SUBSYSTEM">{ids(client, base)}</xrd:client>'
        f'<xrd:service id:objectType="SERVICE">{service}'
        "</xrd:service>"
        f"<xrd:userId>conformance</xrd:userId><xrd:id>{message_id}</xrd:id>"
        "<xrd:protocolVersion>4.0</xrd:protocolVersion>"
    )


def envelope(body: str, header: str | None) -> bytes:
    head = f"<soapenv:Header>{header}</soapenv:Header>" if header is not None else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="{SOAP}" xmlns:xrd="{XRD}" '
        f'xmlns:id="{IDN}" xmlns:n="{NS}">{head}<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>'
    ).encode()


def citizen_body(so: str | None = None, name: str = "Nguyễn Văn Thử", birth: str = "1991-02-03") -> str:
    so = so or "0" + "".join(random.choice("0123456789") for _ in range(11))
    return (
        f"<n:XacThucThongTinCongDan><n:SoDinhDanh>{so}</n:SoDinhDanh><n:HoVaTen>{name}</n:HoVaTen>"
        f"<n:NgaySinh>{birth}</n:NgaySinh></n:XacThucThongTinCongDan>"
    )


def business_body(code: str = "1800000018") -> str:
    return f"<n:TraCuuDoanhNghiep><n:MaSoThue>{code}</n:MaSoThue></n:TraCuuDoanhNghiep>"


@pytest.fixture
def call(http: httpx.Client, ngsp_url: str, xroad_client: list[str], xroad_provider: list[str]):
    def _call(
        operation: str,
        body: str,
        *,
        with_headers: bool = True,
        message_id: str | None = None,
        raw: bytes | None = None,
    ) -> httpx.Response:
        header = _headers(xroad_client, xroad_provider, operation, message_id or str(uuid.uuid4()))
        data = raw if raw is not None else envelope(body, header if with_headers else None)
        return http.post(
            ngsp_url,
            content=data,
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{NS}#{operation}"'},
        )

    return _call


def assert_fault(resp: httpx.Response, code: str = "Client") -> etree._Element:
    assert resp.status_code == 500, f"a SOAP 1.1 Fault travels with HTTP 500, got {resp.status_code}"
    content_type = resp.headers.get("content-type", "")
    assert content_type.startswith("text/xml"), f"Content-Type {content_type!r}"
    root = _xml(resp.content)
    fault = root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault is not None, "expected a SOAP Fault"
    faultcode = fault.findtext("faultcode") or ""
    assert faultcode.split(":")[-1] == code, faultcode
    assert (fault.findtext("faultstring") or "").strip(), "faultstring must explain the problem"
    return fault


def answer(resp: httpx.Response, element: str, schema: xmlschema.XMLSchema) -> etree._Element:
    assert resp.status_code == 200, f"HTTP {resp.status_code}: {resp.text[:500]}"
    content_type = resp.headers.get("content-type", "")
    assert content_type.startswith("text/xml"), f"Content-Type {content_type!r}"
    root = _xml(resp.content)
    payload = root.find(f"{{{SOAP}}}Body/{{{NS}}}{element}")
    assert payload is not None, f"Body must hold {element}"
    schema.validate(payload)
    return root


# ---------------------------------------------------------------- WSDL


def test_wsdl_is_served_and_declares_the_operations(http: httpx.Client, ngsp_url: str) -> None:
    resp = http.get(ngsp_url, params={"wsdl": ""})
    assert resp.status_code == 200, f"HTTP {resp.status_code}: {resp.text[:200]}"
    root = _xml(resp.content)
    assert root.tag == f"{{{WSDL}}}definitions"
    ops = {op.get("name") for op in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation")}
    assert ops >= OPERATIONS
    address = root.find(f".//{{{WSDL}}}port/{{http://schemas.xmlsoap.org/wsdl/soap/}}address")
    assert address is not None and address.get("location", "").startswith("http")


def test_wsdl_and_its_schemas_load_in_a_soap_toolkit(http: httpx.Client, ngsp_url: str, tmp_path: Path) -> None:
    """Download the WSDL and every schema it references, then build a zeep client offline from them."""
    wsdl_url = str(httpx.URL(ngsp_url).copy_with(query=b"wsdl"))
    pending, seen = [(wsdl_url, "service.wsdl")], set()
    while pending:
        url, name = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        resp = http.get(url)
        assert resp.status_code == 200, f"{url} is not served"
        doc = _xml(resp.content)
        for ref in doc.iter(f"{{{XSD}}}import", f"{{{XSD}}}include"):
            location = ref.get("schemaLocation")
            if location:
                local = Path(location).name
                pending.append((urljoin(url, location), local))
                ref.set("schemaLocation", local)
        (tmp_path / name).write_bytes(etree.tostring(doc))
    client = zeep.Client(
        str(tmp_path / "service.wsdl"),
        settings=zeep.Settings(forbid_dtd=True, forbid_external=True, forbid_entities=True),
    )
    names = {op for binding in client.wsdl.bindings.values() for op in binding._operations}
    assert names >= OPERATIONS


# ---------------------------------------------------------------- valid requests


def test_citizen_verification_answers_per_schema(call, message_schema: xmlschema.XMLSchema) -> None:
    root = answer(call("XacThucThongTinCongDan", citizen_body()), "XacThucThongTinCongDanResponse", message_schema)
    code = root.findtext(f".//{{{NS}}}MaKetQua")
    assert code in {"KHOP", "KHONG_KHOP", "KHONG_TIM_THAY"}


def test_business_lookup_answers_per_schema(call, message_schema: xmlschema.XMLSchema) -> None:
    for code in ("1800000018", "0000000001", "1800000032-001"):
        answer(call("TraCuuDoanhNghiep", business_body(code)), "TraCuuDoanhNghiepResponse", message_schema)


def test_xroad_headers_are_echoed(call) -> None:
    message_id = f"conformance-{uuid.uuid4()}"
    resp = call("TraCuuDoanhNghiep", business_body(), message_id=message_id)
    assert resp.status_code == 200
    header = _xml(resp.content).find(f"{{{SOAP}}}Header")
    assert header is not None, "the response must carry the X-Road headers"
    assert header.findtext(f"{{{XRD}}}id") == message_id
    assert header.findtext(f"{{{XRD}}}protocolVersion") == "4.0"
    for tag in ("client", "service"):
        assert header.find(f"{{{XRD}}}{tag}") is not None, f"xrd:{tag} not echoed"
    assert header.findtext(f"{{{XRD}}}service/{{{IDN}}}serviceCode") == "TraCuuDoanhNghiep"


# ---------------------------------------------------------------- invalid requests


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("XacThucThongTinCongDan", citizen_body(so="12345")),  # ID must be 12 digits
        ("XacThucThongTinCongDan", citizen_body(birth="03/02/1991")),  # not an xs:date
        (
            "XacThucThongTinCongDan",
            "<n:XacThucThongTinCongDan><n:SoDinhDanh>012345678901</n:SoDinhDanh></n:XacThucThongTinCongDan>",
        ),  # required fields missing
        ("TraCuuDoanhNghiep", business_body("18-00")),  # bad tax code
        ("TraCuuDoanhNghiep", "<n:XoaDoanhNghiep><n:MaSoThue>1800000018</n:MaSoThue></n:XoaDoanhNghiep>"),
    ],
    ids=["short-id", "bad-date", "missing-fields", "bad-tax-code", "unknown-operation"],
)
def test_invalid_requests_get_client_faults(call, operation: str, body: str) -> None:
    assert_fault(call(operation, body))


def test_missing_xroad_headers_get_a_fault(call) -> None:
    assert_fault(call("TraCuuDoanhNghiep", business_body(), with_headers=False))


@pytest.mark.parametrize(
    "raw",
    [
        b"this is not xml",
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soapenv:Body>&x;</soapenv:Body></soapenv:Envelope>",
    ],
    ids=["not-xml", "xxe"],
)
def test_malformed_or_hostile_xml_gets_a_fault(call, raw: bytes) -> None:
    fault = assert_fault(call("TraCuuDoanhNghiep", "", raw=raw))
    assert "root:" not in etree.tostring(fault).decode()
