"""SOAP -> JSON: types survive, faults and unusable answers become typed errors, XXE is refused."""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import pytest

from lgsp.mediation import SoapFaultError, SoapService, UpstreamFormatError
from lgsp.testing.servers import RunningServer

ENV = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{}</s:Body></s:Envelope>'
ROUND = {
    "Day": "2024-02-29",
    "At": "2026-11-26T09:30:00+07:00",
    "Money": "1500000000.1000",
    "Count": 7,
    "Flag": False,
    "Tag": ["only-one"],
    "Item": [{"Code": "A", "Amount": "0.10"}],
}


def _env(inner: str) -> bytes:
    return ENV.format(inner).encode()


async def test_types_round_trip_over_real_http(roundtrip: SoapService, echo_server: RunningServer) -> None:
    """date, dateTime, decimal (trailing zeros kept), int, bool, one-element lists: unchanged after a trip."""
    envelope, headers = roundtrip.build_request("Echo", ROUND)
    async with (
        aiohttp.ClientSession() as session,
        session.post(echo_server.url + "/", data=envelope, headers=headers) as resp,
    ):
        body = await resp.read()
        result = roundtrip.parse_response("Echo", resp.status, resp.headers["Content-Type"], body)
    assert result == ROUND  # absent optional Note is omitted, not null
    assert isinstance(result["Tag"], list) and isinstance(result["Item"], list)


def test_decimal_numbers_in_json_are_not_rounded_through_float(roundtrip: SoapService) -> None:
    envelope, _ = roundtrip.build_request(
        "Echo",
        b'{"Day":"2024-02-29","At":"2026-11-26T09:30:00Z","Money":0.1000,"Count":1,"Flag":true,'
        b'"Item":[{"Code":"A","Amount":12345678901234567.89}]}',
    )
    assert b"<ns0:Money>0.1000</ns0:Money>" in envelope
    assert b"12345678901234567.89" in envelope
    assert Decimal("12345678901234567.89") != Decimal(float("12345678901234567.89"))  # what a float would have done


def test_absent_list_is_an_empty_array(ngsp: SoapService) -> None:
    body = _env(
        '<n:XacThucThongTinCongDanResponse xmlns:n="urn:lgsp:ngsp:v1"><n:KetQuaXacThuc>1</n:KetQuaXacThuc>'
        "<n:MaKetQua>KHOP</n:MaKetQua><n:ThoiDiemXacThuc>2026-11-26T10:00:00Z</n:ThoiDiemXacThuc>"
        "</n:XacThucThongTinCongDanResponse>"
    )
    result = ngsp.parse_response("XacThucThongTinCongDan", 200, "text/xml; charset=utf-8", body)
    assert result == {
        "KetQuaXacThuc": True,
        "MaKetQua": "KHOP",
        "TruongKhongKhop": [],
        "ThoiDiemXacThuc": "2026-11-26T10:00:00+00:00",
    }


def test_soap11_fault(ngsp: SoapService) -> None:
    body = _env(
        "<s:Fault><faultcode>s:Client</faultcode><faultstring>Số định danh không hợp lệ</faultstring>"
        '<detail><e:Loi xmlns:e="urn:x"><e:MaLoi>E01</e:MaLoi></e:Loi></detail></s:Fault>'
    )
    with pytest.raises(SoapFaultError) as info:
        ngsp.parse_response("TraCuuDoanhNghiep", 500, "text/xml", body)
    err = info.value
    assert (err.kind, err.http_status) == ("soap-fault", 502)
    assert err.code == "s:Client" and err.string == "Số định danh không hợp lệ"
    assert err.problem_extensions()["faultdetail"] == {"Loi": {"MaLoi": "E01"}}


def test_soap12_fault(ngsp: SoapService) -> None:
    body = (
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault>'
        b"<e:Code><e:Value>e:Receiver</e:Value></e:Code><e:Reason><e:Text>down</e:Text></e:Reason>"
        b"</e:Fault></e:Body></e:Envelope>"
    )
    with pytest.raises(SoapFaultError) as info:
        ngsp.parse_response("TraCuuDoanhNghiep", 500, "application/soap+xml", body)
    assert (info.value.code, info.value.string) == ("e:Receiver", "down")


def test_html_error_page(ngsp: SoapService) -> None:
    page = b"<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head></html>"
    with pytest.raises(UpstreamFormatError) as info:
        ngsp.parse_response("TraCuuDoanhNghiep", 503, "text/html", page)
    err = info.value
    assert (err.kind, err.http_status) == ("upstream-bad-response", 502)
    assert "HTML page" in err.detail and "503 Service Temporarily Unavailable" in err.detail
    assert err.upstream_status == 503


def test_html_page_with_xml_content_type_is_still_recognised(ngsp: SoapService) -> None:
    with pytest.raises(UpstreamFormatError, match="HTML page"):
        ngsp.parse_response("TraCuuDoanhNghiep", 200, "text/xml", b"<html><body>Login</body></html>")


@pytest.mark.parametrize(
    "payload",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&x;</s:Body></s:Envelope>',
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&b;</s:Body></s:Envelope>',
    ],
    ids=["external-entity", "entity-expansion"],
)
def test_xxe_in_response_is_refused(ngsp: SoapService, payload: bytes) -> None:
    with pytest.raises(UpstreamFormatError) as info:
        ngsp.parse_response("TraCuuDoanhNghiep", 200, "text/xml", payload)
    assert "DTD" in info.value.detail
    assert "root:" not in info.value.detail  # nothing from /etc/passwd leaked


@pytest.mark.parametrize(
    ("status", "ctype", "body", "words"),
    [
        (200, "application/json", b'{"ok": true}', "non-XML"),
        (502, None, b"", "empty body"),
        (200, "text/xml", b"<a><b></a>", "malformed"),
        (200, "text/xml", b"<Envelope/>", "not a SOAP Envelope"),
        (500, "text/xml", _env('<n:TraCuuDoanhNghiepResponse xmlns:n="urn:lgsp:ngsp:v1"/>'), "no Fault"),
        (200, "text/xml", _env('<n:Other xmlns:n="urn:lgsp:ngsp:v1"/>'), "expected {urn:lgsp:ngsp:v1}"),
        (
            200,
            "text/xml",
            _env(
                '<n:TraCuuDoanhNghiepResponse xmlns:n="urn:lgsp:ngsp:v1"><n:TimThay>true</n:TimThay>'
                "<n:ThoiDiemCapNhat>not-a-date</n:ThoiDiemCapNhat></n:TraCuuDoanhNghiepResponse>"
            ),
            "does not match the WSDL",
        ),
    ],
)
def test_unusable_responses(ngsp: SoapService, status: int, ctype: str | None, body: bytes, words: str) -> None:
    with pytest.raises(UpstreamFormatError) as info:
        ngsp.parse_response("TraCuuDoanhNghiep", status, ctype, body)
    assert words in info.value.detail
