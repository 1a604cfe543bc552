"""Record validation (§4.3): required markers, yyyyMMddHHmmss dates, code lists, isUpdating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapters.dvcqg import (
    DossierValidationError,
    TrangThaiHoSo,
    decode_is_updating,
    encode_is_updating,
    format_timestamp,
    parse_timestamp,
    validate_dossier,
    validate_progress,
)
from adapters.dvcqg.dates import TimestampError
from adapters.dvcqg.models import DOSSIER_REQUIRED_FIELDS, PROGRESS_REQUIRED_FIELDS

from .conftest import dossier, progress


def test_valid_dossier_goes_on_the_wire_with_string_codes_and_without_blank_optionals() -> None:
    record = validate_dossier(dossier(TrangThaiHoSo=4, LoaiDoiTuong=2, HinhThuc=1, NgayTra="", Email=""))
    wire = record.to_wire()
    assert wire["TrangThaiHoSo"] == "4" and wire["LoaiDoiTuong"] == "2" and wire["HinhThuc"] == "1"
    assert "NgayTra" not in wire and "Email" not in wire
    assert record.TrangThaiHoSo is TrangThaiHoSo.DANG_XU_LY


def test_required_fields_are_the_ones_marked_m_in_protocols() -> None:
    assert set(DOSSIER_REQUIRED_FIELDS) == {
        "MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "LoaiDoiTuong", "TrichYeuHoSo",
        "NgayTiepNhan", "NgayHenTra", "TrangThaiHoSo", "HinhThuc", "DonViXuLy",
    }  # fmt: skip
    assert set(PROGRESS_REQUIRED_FIELDS) == {
        "MaHoSo",
        "NguoiXuLy",
        "ThoiDiemXuLy",
        "NoiDungXuLy",
        "TrangThai",
    }


@pytest.mark.parametrize("field", DOSSIER_REQUIRED_FIELDS)
def test_missing_required_dossier_field_is_named(field: str) -> None:
    data = dossier()
    del data[field]
    with pytest.raises(DossierValidationError) as caught:
        validate_dossier(data)
    assert caught.value.fields == (field,)
    assert "required" in str(caught.value)


@pytest.mark.parametrize("field", ["MaHoSo", "TrichYeuHoSo", "DonViXuLy"])
def test_blank_required_text_is_refused(field: str) -> None:
    with pytest.raises(DossierValidationError) as caught:
        validate_dossier(dossier(**{field: "   "}))
    assert caught.value.fields == (field,)
    assert "must not be empty" in str(caught.value)


@pytest.mark.parametrize(
    "value",
    [
        "2025-01-31 14:30:00",
        "20250131",
        "202501311430000",
        "20251301000000",
        "20250230120000",
        20250131143000,
    ],
)
def test_bad_dates_are_refused_with_the_field_name(value: object) -> None:
    with pytest.raises(DossierValidationError) as caught:
        validate_dossier(dossier(NgayTiepNhan=value))
    assert caught.value.fields == ("NgayTiepNhan",)


def test_bad_optional_and_nested_dates_are_refused_with_their_path() -> None:
    data = dossier(NgayTra="31/01/2025", DanhSachHoSoBoSung=[{"NgayBoSung": "2025-02-01"}])
    with pytest.raises(DossierValidationError) as caught:
        validate_dossier(data, prefix="data[0]")
    assert caught.value.fields == ("data[0].NgayTra", "data[0].DanhSachHoSoBoSung[0].NgayBoSung")


def test_aware_datetimes_are_converted_to_vietnam_time_and_naive_ones_refused() -> None:
    record = validate_dossier(dossier(NgayTiepNhan=datetime(2025, 1, 31, 7, 30, tzinfo=UTC)))
    assert record.NgayTiepNhan == "20250131143000"
    with pytest.raises(DossierValidationError) as caught:
        validate_dossier(dossier(NgayTiepNhan=datetime(2025, 1, 31, 7, 30)))
    assert "naive" in str(caught.value)


def test_timestamp_round_trip_is_in_utc_plus_7() -> None:
    moment = parse_timestamp("20250131235959")
    assert moment.utcoffset() == timedelta(hours=7)
    assert format_timestamp(moment.astimezone(timezone(timedelta(hours=-5)))) == "20250131235959"
    with pytest.raises(TimestampError):
        parse_timestamp("20250131 23595")


@pytest.mark.parametrize("code", [0, 11, "abc", "", True, None, 4.5])
def test_status_outside_1_to_10_is_refused(code: object) -> None:
    with pytest.raises(DossierValidationError) as caught:
        validate_dossier(dossier(TrangThaiHoSo=code))
    assert caught.value.fields == ("TrangThaiHoSo",)


@pytest.mark.parametrize("code", [1, "10", " 7 "])
def test_status_1_to_10_accepted_as_int_or_digits(code: object) -> None:
    assert 1 <= validate_dossier(dossier(TrangThaiHoSo=code)).TrangThaiHoSo <= 10


@pytest.mark.parametrize(("field", "value"), [("LoaiDoiTuong", "3"), ("HinhThuc", 2), ("MaHoSo", 12345)])
def test_other_coded_or_typed_fields_are_checked(field: str, value: object) -> None:
    with pytest.raises(DossierValidationError) as caught:
        validate_dossier(dossier(**{field: value}))
    assert caught.value.fields == (field,)


def test_null_lists_are_empty_lists_and_list_items_are_checked() -> None:
    assert validate_dossier(dossier(TaiLieuNop=None)).TaiLieuNop == []
    with pytest.raises(DossierValidationError) as caught:
        validate_dossier(dossier(DanhSachLePhi="50000"))
    assert caught.value.fields == ("DanhSachLePhi",)


def test_non_object_record_is_refused() -> None:
    with pytest.raises(DossierValidationError, match="must be a JSON object"):
        validate_dossier(["not", "a", "record"])


@pytest.mark.parametrize("field", PROGRESS_REQUIRED_FIELDS)
def test_missing_required_progress_field_is_named(field: str) -> None:
    data = progress()
    del data[field]
    with pytest.raises(DossierValidationError) as caught:
        validate_progress(data)
    assert caught.value.fields == (field,)


def test_progress_dates_and_status_are_checked() -> None:
    with pytest.raises(DossierValidationError) as caught:
        validate_progress(progress(ThoiDiemXuLy="2025-01-31", NgayBatDau="x", TrangThai=12))
    assert set(caught.value.fields) == {"ThoiDiemXuLy", "NgayBatDau", "TrangThai"}


def test_is_updating_is_the_exact_strings_true_and_false() -> None:
    assert encode_is_updating(True) == "True" and encode_is_updating(False) == "False"
    assert decode_is_updating("True") is True and decode_is_updating("False") is False
    for bad in ("true", "1", True, None):
        with pytest.raises(ValueError, match="isUpdating"):
            decode_is_updating(bad)
