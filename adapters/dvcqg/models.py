"""The two records DVCQG accepts from a one-stop-shop system, with §4.3's required markers.

Field names are the portal's own (``MaHoSo``, ``NgayHenTra`` …) so a record reads the same in Python,
on the wire and in PROTOCOLS.md. Validation happens once, here, and is shared by the client (refuse to
send a bad record), the sync service (refuse to enqueue one) and the simulator (refuse to accept one),
and every failure names the field, because "invalid dossier" alone cannot be fixed by a vendor.

Required markers ([C] unless noted): §4.3 "M" fields and, for the progress record, every field S-OCPS does
not mark "ko bb" (không bắt buộc). S-OCPS sends optional dates as ``""`` when unknown, so blank optional
values are accepted and treated as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import IntEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationError,
)

from .codes import HinhThuc, LoaiDoiTuong, TrangThaiHoSo
from .dates import TimestampError, format_timestamp, parse_timestamp
from .errors import DossierValidationError, FieldProblem

__all__ = [
    "DossierRecord",
    "GiayToKetQuaItem",
    "HoSoBoSungItem",
    "LePhiItem",
    "ProgressRecord",
    "TaiLieuNopItem",
    "TepDinhKemKhacItem",
    "validate_dossier",
    "validate_progress",
]

E = TypeVar("E", bound=IntEnum)


# ---- field types ---------------------------------------------------------------------------------------


def _required_text(value: Any) -> str:
    if value is None:
        raise ValueError("required, must not be null")
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError("required, must not be empty")
    return value


def _optional_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    return value


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime):
        try:
            return format_timestamp(value)
        except TimestampError as exc:
            raise ValueError(str(exc)) from None
    if value is None or value == "":
        raise ValueError("required date, format yyyyMMddHHmmss")
    try:
        parse_timestamp(value)
    except TimestampError as exc:
        raise ValueError(str(exc)) from None
    return str(value)


def _optional_timestamp(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return _timestamp(value)


def _scalar(value: Any) -> Any:
    if value is not None and not isinstance(value, str | int | float | bool):
        raise ValueError(f"must be a string, number or boolean, got {type(value).__name__}")
    return value


def _code(enum: type[E]) -> Any:
    """Accept ``4`` or ``"4"`` (vendors send both), refuse everything outside the code list."""
    allowed = ", ".join(str(int(member)) for member in enum)

    def parse(value: Any) -> E:
        if isinstance(value, bool):
            raise ValueError(f"must be one of {allowed}, got {value!r}")
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, int):
            try:
                return enum(value)
            except ValueError:
                pass
        raise ValueError(f"must be one of {allowed}, got {value!r}")

    return parse


def _as_string(value: IntEnum) -> str:
    return str(int(value))


def _list_or_empty(value: Any) -> Any:
    return [] if value is None else value


RequiredText = Annotated[str, BeforeValidator(_required_text)]
OptionalText = Annotated[str | None, BeforeValidator(_optional_text)]
Timestamp = Annotated[str, BeforeValidator(_timestamp)]
OptionalTimestamp = Annotated[str | None, BeforeValidator(_optional_timestamp)]
Scalar = Annotated[Any, AfterValidator(_scalar)]
# Codes go on the wire as strings, as S-OCPS sends LoaiDoiTuong/HinhThuc ([C]); for TrangThaiHoSo the
# portal's expected JSON type is not documented ([U]), the string form is our choice ([I]).
StatusCode = Annotated[
    TrangThaiHoSo, BeforeValidator(_code(TrangThaiHoSo)), PlainSerializer(_as_string, return_type=str)
]
ApplicantKind = Annotated[
    LoaiDoiTuong, BeforeValidator(_code(LoaiDoiTuong)), PlainSerializer(_as_string, return_type=str)
]
Channel = Annotated[HinhThuc, BeforeValidator(_code(HinhThuc)), PlainSerializer(_as_string, return_type=str)]


class _Record(BaseModel):
    """Common behaviour: unknown extra fields are kept (the portal's list ends with "…")."""

    model_config = ConfigDict(extra="allow")

    def to_wire(self) -> dict[str, Any]:
        """The JSON object sent to the portal; absent optional fields are left out."""
        return self.model_dump(mode="json", exclude_none=True)


# ---- nested lists of DongBoHoSoMC (all optional, §4.3) -------------------------------------------------


class TaiLieuNopItem(_Record):
    """A submitted file."""

    TepDinhKemId: Scalar = None
    TenTepDinhKem: OptionalText = None
    IsDeleted: Scalar = None
    MaThanhPhanHoSo: OptionalText = None
    DuongDanTaiTepTin: OptionalText = None


class LePhiItem(_Record):
    """A fee or charge."""

    TenPhiLePhi: OptionalText = None
    MaPhiLePhi: OptionalText = None
    HinhThucThu: Scalar = None
    Gia: Scalar = None
    LoaiPhiLePhi: Scalar = None


class TepDinhKemKhacItem(_Record):
    """Another paper handed in."""

    TenGiayTo: OptionalText = None
    SoLuong: Scalar = None
    LoaiGiayTo: Scalar = None


class HoSoBoSungItem(_Record):
    """A request for additional papers; its dates follow the same yyyyMMddHHmmss rule."""

    HoSoBoSungId: Scalar = None
    NguoiYeuCauBoSung: OptionalText = None
    NoiDungBoSung: OptionalText = None
    NgayBoSung: OptionalTimestamp = None
    NguoiTiepNhanBoSung: OptionalText = None
    ThongTinTiepNhan: OptionalText = None
    NgayTiepNhanBoSung: OptionalTimestamp = None
    TrangThaiBoSung: Scalar = None
    DanhSachGiayToBoSung: Any = None
    DanhSachLePhiBoSung: Any = None
    NgayHenTraTruoc: OptionalTimestamp = None
    NgayHenTraMoi: OptionalTimestamp = None


class GiayToKetQuaItem(_Record):
    """A result paper."""

    TenGiayTo: OptionalText = None
    MaThanhPhanHoSo: OptionalText = None
    GiayToId: Scalar = None
    DuongDanTepTinKetQua: OptionalText = None


# ---- the two top-level records -------------------------------------------------------------------------


class DossierRecord(_Record):
    """One element of ``data[]`` in ``DongBoHoSoMC`` (§4.3).

    ``TenTTHC``/``MaLinhVuc``/``TenLinhVuc`` are required by the portal but come from ``LayThuTuc``; the
    sync service fills them when the one-stop-shop system leaves them out. ``Email``/``SoDienThoai`` are
    marked "O/M" in §4.3 (S-OCPS sends them, possibly empty) and are treated as optional.
    """

    MaHoSo: RequiredText
    MaTTHC: RequiredText
    TenTTHC: RequiredText
    MaLinhVuc: RequiredText
    TenLinhVuc: RequiredText
    SoBienNhan: OptionalText = None
    ChuHoSo: OptionalText = None
    LoaiDoiTuong: ApplicantKind
    MaDoiTuong: OptionalText = None
    ThongTinKhac: OptionalText = None
    Email: OptionalText = None
    Fax: OptionalText = None
    SoDienThoai: OptionalText = None
    TrichYeuHoSo: RequiredText
    NgayTiepNhan: Timestamp
    NgayHenTra: Timestamp
    TrangThaiHoSo: StatusCode
    NgayTra: OptionalTimestamp = None
    ThongTinTra: OptionalText = None
    HinhThuc: Channel
    NgayKetThucXuLy: OptionalTimestamp = None
    DonViXuLy: RequiredText
    GhiChu: OptionalText = None
    TaiLieuNop: Annotated[list[TaiLieuNopItem], BeforeValidator(_list_or_empty)] = []
    DanhSachLePhi: Annotated[list[LePhiItem], BeforeValidator(_list_or_empty)] = []
    DanhSachTepDinhKemKhac: Annotated[list[TepDinhKemKhacItem], BeforeValidator(_list_or_empty)] = []
    DanhSachHoSoBoSung: Annotated[list[HoSoBoSungItem], BeforeValidator(_list_or_empty)] = []
    DanhSachGiayToKetQua: Annotated[list[GiayToKetQuaItem], BeforeValidator(_list_or_empty)] = []


class ProgressRecord(_Record):
    """One element of ``data[]`` in ``CapNhatTienDoHoSoMC`` (§4.3 [C]; optional = S-OCPS "ko bb")."""

    MaHoSo: RequiredText
    NguoiXuLy: RequiredText
    ChucDanh: OptionalText = None
    ThoiDiemXuLy: Timestamp
    PhongBanXuLy: OptionalText = None
    NoiDungXuLy: RequiredText
    TrangThai: StatusCode
    NgayBatDau: OptionalTimestamp = None
    NgayKetThucTheoQuyDinh: OptionalTimestamp = None


#: Fields the portal requires in each record, in §4.3 order (used by docs, tests and conformance).
DOSSIER_REQUIRED_FIELDS: tuple[str, ...] = tuple(
    name for name, field in DossierRecord.model_fields.items() if field.is_required()
)
PROGRESS_REQUIRED_FIELDS: tuple[str, ...] = tuple(
    name for name, field in ProgressRecord.model_fields.items() if field.is_required()
)
DOSSIER_DATE_FIELDS: tuple[str, ...] = ("NgayTiepNhan", "NgayHenTra", "NgayTra", "NgayKetThucXuLy")
PROGRESS_DATE_FIELDS: tuple[str, ...] = ("ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh")


# ---- validation entry points ---------------------------------------------------------------------------


def _field_path(loc: tuple[int | str, ...], prefix: str) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(record)"


def field_problems(error: ValidationError, prefix: str) -> list[FieldProblem]:
    """Pydantic errors as :class:`FieldProblem` with portal-style paths (``data[0].NgayHenTra``)."""
    problems = []
    for item in error.errors(include_url=False):
        kind = item["type"]
        if kind == "missing":
            message = "required field is missing"
        elif kind == "value_error":
            message = str(item.get("ctx", {}).get("error", item["msg"]))
        else:
            message = item["msg"]
        problems.append(FieldProblem(_field_path(tuple(item["loc"]), prefix), message))
    return problems


R = TypeVar("R", bound=_Record)


def _validate(model: type[R], data: Any, *, record: str, prefix: str) -> R:
    if isinstance(data, model):
        return data
    if not isinstance(data, Mapping):
        raise DossierValidationError(
            [FieldProblem(prefix or "(record)", f"must be a JSON object, got {type(data).__name__}")],
            record=record,
        )
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise DossierValidationError(field_problems(exc, prefix), record=record) from None


def validate_dossier(data: Any, *, prefix: str = "") -> DossierRecord:
    """Validate one DongBoHoSoMC record or raise :class:`DossierValidationError` naming each bad field."""
    return _validate(DossierRecord, data, record="DongBoHoSoMC record", prefix=prefix)


def validate_progress(data: Any, *, prefix: str = "") -> ProgressRecord:
    """Validate one CapNhatTienDoHoSoMC record or raise :class:`DossierValidationError`."""
    return _validate(ProgressRecord, data, record="CapNhatTienDoHoSoMC record", prefix=prefix)
