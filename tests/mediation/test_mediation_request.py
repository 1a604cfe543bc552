"""JSON -> SOAP: valid bodies become schema-valid envelopes; invalid ones name the offending field."""

from __future__ import annotations

import pytest
import xmlschema
from lxml import etree

from adapters.ngsp.paths import WSDL_DIR
from lgsp.mediation import (
    MediationInputError,
    SoapService,
    UnknownOperationError,
    XRoadClient,
    XRoadHeaders,
    XRoadService,
)

NS = "urn:lgsp:ngsp:v1"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
XRD = "http://x-road.eu/xsd/xroad.xsd"
VALID = {"SoDinhDanh": "092090000101", "HoVaTen": "Nguyễn Văn An", "NgaySinh": "1990-01-15"}


def _headers() -> XRoadHeaders:
    return XRoadHeaders(
        XRoadClient.parse("VN/GOV/000.00.12.H10/MOTCUA"),
        XRoadService.parse("VN/GOV/000.00.00.G01/NGSP/XacThucThongTinCongDan/v1"),
        id="msg-1",
        user_id="canbo-01",
    )


def test_valid_body_builds_envelope_that_the_xsd_accepts(ngsp: SoapService) -> None:
    envelope, http_headers = ngsp.build_request("XacThucThongTinCongDan", VALID, _headers())
    root = etree.fromstring(envelope)
    payload = root.find(f"{{{SOAP}}}Body/{{{NS}}}XacThucThongTinCongDan")
    assert payload is not None
    assert payload.findtext(f"{{{NS}}}HoVaTen") == "Nguyễn Văn An"
    schema = xmlschema.XMLSchema(str(WSDL_DIR / "ngsp-types.xsd"))
    schema.validate(payload)
    assert http_headers["SOAPAction"] == '"urn:lgsp:ngsp:v1#XacThucThongTinCongDan"'
    assert http_headers["Content-Type"].startswith("text/xml")


def test_xroad_headers_are_written(ngsp: SoapService) -> None:
    envelope, _ = ngsp.build_request("XacThucThongTinCongDan", VALID, _headers())
    header = etree.fromstring(envelope).find(f"{{{SOAP}}}Header")
    assert header.findtext(f"{{{XRD}}}id") == "msg-1"
    assert header.findtext(f"{{{XRD}}}userId") == "canbo-01"
    assert header.findtext(f"{{{XRD}}}protocolVersion") == "4.0"
    client = header.find(f"{{{XRD}}}client")
    assert [c.text for c in client] == ["VN", "GOV", "000.00.12.H10", "MOTCUA"]
    service = header.find(f"{{{XRD}}}service")
    assert [c.text for c in service][-2:] == ["XacThucThongTinCongDan", "v1"]
    assert XRoadService.parse("VN/GOV/000.00.00.G01/NGSP/X").service_version is None


def test_raw_json_bytes_are_accepted(ngsp: SoapService) -> None:
    envelope, _ = ngsp.build_request("TraCuuDoanhNghiep", b'{"MaSoThue": "1800000025-001"}')
    assert b"1800000025-001" in envelope


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({**VALID, "SoDinhDanh": "12345"}, "SoDinhDanh", "pattern"),
        ({**VALID, "NgaySinh": "15/01/1990"}, "NgaySinh", "ISO 8601 date"),
        ({**VALID, "NgaySinh": "1990-02-30"}, "NgaySinh", "ISO 8601 date"),
        ({**VALID, "HoVaTen": ""}, "HoVaTen", "length"),
        ({**VALID, "HoVaTen": 42}, "HoVaTen", "expected a string"),
        ({k: v for k, v in VALID.items() if k != "NgaySinh"}, "NgaySinh", "required"),
        ({**VALID, "Extra": "x"}, "Extra", "unknown field"),
    ],
)
def test_invalid_field_is_named(ngsp: SoapService, body: dict, field: str, words: str) -> None:
    with pytest.raises(MediationInputError) as info:
        ngsp.build_request("XacThucThongTinCongDan", body)
    err = info.value
    assert err.kind == "mediation-input-invalid" and err.http_status == 422
    assert any(e.path == field and words in e.message for e in err.errors), err.errors
    assert field in err.detail
    assert any(e["field"] == field for e in err.problem_extensions()["errors"])


def test_nested_list_item_path_is_named(roundtrip: SoapService) -> None:
    body = {
        "Day": "2024-02-29",
        "At": "2026-11-26T09:30:00+07:00",
        "Money": "1.5",
        "Count": 1,
        "Flag": True,
        "Item": [{"Code": "A", "Amount": "1"}, {"Code": "B", "Amount": "abc"}],
    }
    with pytest.raises(MediationInputError) as info:
        roundtrip.build_request("Echo", body)
    assert info.value.field == "Item[1].Amount"


def test_single_value_for_a_list_field_is_refused(roundtrip: SoapService) -> None:
    body = {
        "Day": "2024-02-29",
        "At": "2026-11-26T09:30:00Z",
        "Money": "1",
        "Count": 1,
        "Flag": True,
        "Item": {"Code": "A", "Amount": "1"},
    }
    with pytest.raises(MediationInputError) as info:
        roundtrip.build_request("Echo", body)
    assert info.value.field == "Item" and "array" in info.value.detail


def test_decimal_facets_and_types_are_enforced(roundtrip: SoapService) -> None:
    base = {
        "Day": "2024-02-29",
        "At": "2026-11-26T09:30:00Z",
        "Count": 1,
        "Flag": True,
        "Item": [{"Code": "A", "Amount": "1"}],
    }
    with pytest.raises(MediationInputError) as info:
        roundtrip.build_request("Echo", {**base, "Money": "1.23456"})  # fractionDigits 4
    assert info.value.field == "Money"
    with pytest.raises(MediationInputError) as info:
        roundtrip.build_request("Echo", {**base, "Money": "1", "Flag": "yes"})
    assert info.value.field == "Flag"
    with pytest.raises(MediationInputError) as info:
        roundtrip.build_request("Echo", {**base, "Money": "1", "Count": 3_000_000_000})  # xs:int range
    assert info.value.field == "Count"


def test_body_must_be_a_json_object(ngsp: SoapService) -> None:
    with pytest.raises(MediationInputError, match="JSON object"):
        ngsp.build_request("TraCuuDoanhNghiep", [1, 2])
    with pytest.raises(MediationInputError, match="not valid JSON"):
        ngsp.build_request("TraCuuDoanhNghiep", b"{not json")
    # nesting past json.loads' stack (a RecursionError before: a 500), a lone surrogate no envelope can hold
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"maSoDoanhNghiep": "\\ud800"}'):
        with pytest.raises(MediationInputError, match="not valid JSON"):
            ngsp.build_request("TraCuuDoanhNghiep", body)


def test_unknown_operation(ngsp: SoapService) -> None:
    with pytest.raises(UnknownOperationError) as info:
        ngsp.build_request("XoaCongDan", {})
    assert info.value.kind == "unknown-operation" and info.value.http_status == 404
    assert "TraCuuDoanhNghiep" in info.value.known
    with pytest.raises(UnknownOperationError):
        ngsp.parse_response("XoaCongDan", 200, "text/xml", b"<x/>")
    with pytest.raises(UnknownOperationError):
        ngsp.json_schema("XoaCongDan", "input")


@pytest.mark.parametrize("value", ["19900115", "1990-01-15T00:00:00", "1990-W03-1", "1990-01-15x", "1990-1-5"])
def test_only_xsd_date_forms_are_accepted(ngsp: SoapService, value: str) -> None:
    with pytest.raises(MediationInputError) as info:
        ngsp.build_request("XacThucThongTinCongDan", {**VALID, "NgaySinh": value})
    assert info.value.field == "NgaySinh"


def test_date_with_offset_and_datetime_forms_are_accepted(ngsp: SoapService, roundtrip: SoapService) -> None:
    ngsp.build_request("XacThucThongTinCongDan", {**VALID, "NgaySinh": "1990-01-15+07:00"})
    base = {"Day": "2024-02-29", "Money": "1", "Count": 1, "Flag": True, "Item": [{"Code": "A", "Amount": "1"}]}
    for at in ("2026-11-26T09:30:00", "2026-11-26T09:30:00.250Z", "2026-11-26T09:30:00-05:00"):
        roundtrip.build_request("Echo", {**base, "At": at})
    with pytest.raises(MediationInputError):
        roundtrip.build_request("Echo", {**base, "At": "2026-11-26 09:30:00"})
