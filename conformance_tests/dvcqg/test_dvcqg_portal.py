"""DVCQG conformance: the session protocol, the read services and DongBoHoSoMC/CapNhatTienDoHoSoMC.

Each test names the PROTOCOLS.md fact it checks and its certainty ([C] confirmed, [C2] secondary,
[I] inferred — the last also carry the ``inferred`` marker).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from dvcqg_wire import Endpoint, is_ok, is_refusal, stamp

REQUIRED_DOSSIER_FIELDS = [
    "MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "LoaiDoiTuong", "TrichYeuHoSo",
    "NgayTiepNhan", "NgayHenTra", "TrangThaiHoSo", "HinhThuc", "DonViXuLy",
]  # fmt: skip


def push(endpoint: Endpoint, session: str, record: dict[str, Any], *, updating: bool) -> dict[str, Any]:
    return endpoint.call("DongBoHoSoMC", session, isUpdating="True" if updating else "False", data=[record])


def lookup(endpoint: Endpoint, session: str, code: str) -> list[dict[str, Any]]:
    answer = endpoint.call("TraCuuHoSo", session, mahoso=code)
    assert is_ok(answer["error_code"]), str(answer)[:300]
    rows = answer.get("result") or []
    assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows), (
        f"TraCuuHoSo: result must be a list of objects, not {str(rows)[:200]}")
    return rows


# ---- session (§4.1 [C]) ---------------------------------------------------------------------------------


def test_login_returns_a_session(endpoint: Endpoint) -> None:
    answer = endpoint.login()
    assert is_ok(answer["error_code"]), str(answer)[:300]
    assert isinstance(answer.get("session"), str) and answer["session"]


def test_login_with_a_wrong_password_is_refused(endpoint: Endpoint) -> None:
    answer = endpoint.login(password="wrong-" + uuid.uuid4().hex)
    assert is_refusal(answer["error_code"]), f"not refused: {str(answer)[:300]}"
    assert not answer.get("session")


def test_call_with_an_unknown_session_is_refused(endpoint: Endpoint) -> None:
    answer = endpoint.call("LayDanhMucCoQuan", "not-a-session-" + uuid.uuid4().hex, path_key="share")
    assert is_refusal(answer["error_code"]), f"not refused: {str(answer)[:300]}"


def test_call_without_madonvi_is_refused(endpoint: Endpoint, session: str) -> None:
    """[I] every call carries ``madonvi`` (§4.1); a call without it should not be served."""
    answer = endpoint.post("share", {"session": session, "service": "LayDanhMucCoQuan"})
    assert is_refusal(answer["error_code"]), f"not refused: {str(answer)[:300]}"


# ---- reads (§4.2 [C]) -----------------------------------------------------------------------------------


def test_lay_thu_tuc_returns_the_procedure_fields(procedure: dict[str, Any]) -> None:
    assert isinstance(procedure["TENTTHC"], str) and procedure["TENTTHC"]
    field = procedure["LINHVUCTHUCHIEN"][0]
    assert field["MALINHVUC"] and field["TENLINHVUC"]


@pytest.mark.parametrize(
    ("service", "keys"),
    [("LayDanhMucCoQuan", {"MADONVI", "TENDONVI"}), ("LayDanhMucLinhVuc", {"MALINHVUC", "TENLINHVUC"})],
)
def test_catalogue_reads_on_the_share_endpoint(endpoint: Endpoint, session: str, service: str, keys: set[str]) -> None:
    answer = endpoint.call(service, session, path_key="share")
    assert is_ok(answer["error_code"]), str(answer)[:300]
    rows = answer.get("result")
    assert isinstance(rows, list) and rows, f"result must be a non-empty list, not {str(rows)[:200]}"
    assert isinstance(rows[0], dict), f"result rows must be JSON objects, not {str(rows[0])[:200]}"
    assert keys <= rows[0].keys()


@pytest.mark.inferred
def test_tra_cuu_of_an_unknown_dossier_is_empty(endpoint: Endpoint, session: str) -> None:
    """[I] "not found" is an empty result with "00" (the §4.2 flow branches on "found")."""
    assert lookup(endpoint, session, "LGSP-CONF-ABSENT-" + uuid.uuid4().hex) == []


# ---- writes (§4.2 flow [C], §4.3 fields [C], §4.5 codes [C2]) -------------------------------------------


@pytest.mark.writes
def test_first_push_update_and_progress_are_visible_through_tra_cuu(
    endpoint: Endpoint, session: str, writable: None, new_dossier: dict[str, Any]
) -> None:
    code = new_dossier["MaHoSo"]
    first = push(endpoint, session, new_dossier, updating=False)
    assert is_ok(first["error_code"]), str(first)[:300]
    found = lookup(endpoint, session, code)
    assert found and found[0]["MaHoSo"] == code and str(found[0]["TrangThaiHoSo"]) == "2"

    second = push(endpoint, session, new_dossier | {"TrangThaiHoSo": "4"}, updating=True)
    assert is_ok(second["error_code"]), str(second)[:300]
    assert str(lookup(endpoint, session, code)[0]["TrangThaiHoSo"]) == "4"

    progress = {
        "MaHoSo": code,
        "NguoiXuLy": "LGSP conformance",
        "ThoiDiemXuLy": stamp(),
        "NoiDungXuLy": "Đang thẩm định",
        "TrangThai": "4",
    }
    answer = endpoint.call("CapNhatTienDoHoSoMC", session, data=[progress])
    assert is_ok(answer["error_code"]), str(answer)[:300]


@pytest.mark.writes
@pytest.mark.parametrize("field", REQUIRED_DOSSIER_FIELDS)
def test_missing_required_field_is_refused(
    endpoint: Endpoint, session: str, writable: None, new_dossier: dict[str, Any], field: str
) -> None:
    del new_dossier[field]
    answer = push(endpoint, session, new_dossier, updating=False)
    assert is_refusal(answer["error_code"]), f"accepted a dossier without {field}"


@pytest.mark.writes
@pytest.mark.parametrize("value", ["2025-01-31 08:00:00", "31/01/2025", "20251301080000", "202501310800"])
@pytest.mark.parametrize("field", ["NgayTiepNhan", "NgayHenTra"])
def test_date_not_in_yyyymmddhhmmss_is_refused(
    endpoint: Endpoint, session: str, writable: None, new_dossier: dict[str, Any], field: str, value: str
) -> None:
    answer = push(endpoint, session, new_dossier | {field: value}, updating=False)
    assert is_refusal(answer["error_code"]), f"accepted {field}={value!r}"


@pytest.mark.writes
@pytest.mark.parametrize("code", ["0", "11", "abc"])
def test_status_outside_1_to_10_is_refused(
    endpoint: Endpoint, session: str, writable: None, new_dossier: dict[str, Any], code: str
) -> None:
    answer = push(endpoint, session, new_dossier | {"TrangThaiHoSo": code}, updating=False)
    assert is_refusal(answer["error_code"]), f"accepted TrangThaiHoSo={code!r}"


@pytest.mark.writes
def test_progress_with_a_bad_date_is_refused(
    endpoint: Endpoint, session: str, writable: None, new_dossier: dict[str, Any]
) -> None:
    assert is_ok(push(endpoint, session, new_dossier, updating=False)["error_code"])
    progress = {
        "MaHoSo": new_dossier["MaHoSo"],
        "NguoiXuLy": "LGSP conformance",
        "ThoiDiemXuLy": "2025-01-31T08:00:00",
        "NoiDungXuLy": "x",
        "TrangThai": "4",
    }
    assert is_refusal(endpoint.call("CapNhatTienDoHoSoMC", session, data=[progress])["error_code"])


@pytest.mark.writes
@pytest.mark.inferred
@pytest.mark.parametrize("flag", ["true", "1", "yes"])
def test_is_updating_must_be_the_string_true_or_false(
    endpoint: Endpoint, session: str, writable: None, new_dossier: dict[str, Any], flag: str
) -> None:
    """[C] the values are "True"/"False"; [I] that other spellings are refused."""
    answer = endpoint.call("DongBoHoSoMC", session, isUpdating=flag, data=[new_dossier])
    assert is_refusal(answer["error_code"]), f"not refused: {str(answer)[:300]}"


@pytest.mark.writes
@pytest.mark.inferred
def test_is_updating_contradicting_the_portal_is_refused(
    endpoint: Endpoint, session: str, writable: None, new_dossier: dict[str, Any]
) -> None:
    """[I] an update of an unknown dossier, or a second first push, is refused."""
    assert is_refusal(push(endpoint, session, new_dossier, updating=True)["error_code"])
    assert is_ok(push(endpoint, session, new_dossier, updating=False)["error_code"])
    assert is_refusal(push(endpoint, session, new_dossier, updating=False)["error_code"])
