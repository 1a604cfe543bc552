"""JSON Schemas and OpenAPI generated from the WSDL state exactly what mediation enforces and emits."""

from __future__ import annotations

import re

import pytest

from lgsp.mediation import SoapService, openapi


def test_input_schema_carries_xsd_facets(ngsp: SoapService) -> None:
    schema = ngsp.json_schema("XacThucThongTinCongDan", "input")
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["required"] == ["SoDinhDanh", "HoVaTen", "NgaySinh"]
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    pattern = props["SoDinhDanh"]["pattern"]
    assert re.search(pattern, "092090000101") and not re.search(pattern, "0920900001011")
    assert props["NgaySinh"] == {"type": "string", "format": "date"}
    assert props["HoVaTen"]["minLength"] == 1 and props["HoVaTen"]["maxLength"] == 100


def test_output_schema_lists_decimals_and_enums(ngsp: SoapService) -> None:
    schema = ngsp.json_schema("TraCuuDoanhNghiep", "output")
    dn = schema["properties"]["DoanhNghiep"]
    assert "DoanhNghiep" not in schema["required"]  # minOccurs=0
    reps = dn["properties"]["NguoiDaiDien"]
    assert reps["type"] == "array" and reps["minItems"] == 1 and "maxItems" not in reps
    assert dn["properties"]["NganhNghe"]["type"] == "array"
    assert dn["properties"]["VonDieuLe"]["type"] == "string"  # exact decimal string on output
    assert dn["properties"]["TrangThai"]["enum"] == ["DANG_HOAT_DONG", "TAM_NGUNG", "DA_GIAI_THE"]
    assert dn["properties"]["SoLaoDong"]["type"] == "integer"


def test_input_decimal_accepts_string_or_number(roundtrip: SoapService) -> None:
    money = roundtrip.json_schema("Echo", "input")["properties"]["Money"]
    assert {"type": "number"} in money["anyOf"]
    assert roundtrip.json_schema("Echo", "input")["properties"]["Item"]["maxItems"] == 5


def test_bad_direction(ngsp: SoapService) -> None:
    with pytest.raises(ValueError, match="direction"):
        ngsp.json_schema("TraCuuDoanhNghiep", "sideways")  # type: ignore[arg-type]


def test_openapi_document(ngsp: SoapService) -> None:
    doc = openapi(ngsp, server_url="https://lgsp.cantho.example")
    assert doc["openapi"].startswith("3.1")
    post = doc["paths"]["/services/{agency}/{system}/{service}/TraCuuDoanhNghiep"]["post"]
    assert post["operationId"] == "TraCuuDoanhNghiep"
    assert {p["name"] for p in post["parameters"]} == {"agency", "system", "service"}
    assert set(post["responses"]) == {"200", "404", "422", "502"}
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/TraCuuDoanhNghiepInput"
    assert doc["components"]["schemas"]["TraCuuDoanhNghiepInput"]["required"] == ["MaSoThue"]
    assert "/services/{agency}/{system}/{service}/TraCuuDoanhNghiep/schema" in doc["paths"]
    concrete = openapi(ngsp, path_prefix="/services/000.00.12.H10/NGSP/tracuu")
    assert "parameters" not in concrete["paths"]["/services/000.00.12.H10/NGSP/tracuu/TraCuuDoanhNghiep"]["post"]


def test_schema_document_has_both_directions(ngsp: SoapService) -> None:
    doc = ngsp.schemas("XacThucThongTinCongDan")
    assert doc["operation"] == "XacThucThongTinCongDan"
    assert "SoDinhDanh" in doc["input"]["properties"] and "MaKetQua" in doc["output"]["properties"]
