"""Code lists of the DVCQG integration protocol (PROTOCOLS §4.2, §4.3, §4.5).

Kept apart from the record models so the status mapping, the client and the simulator share one
source for every enumerated value.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final


class TrangThaiHoSo(IntEnum):
    """Dossier status codes 1–10 (§4.5, [C2]: from a public frontend constant and Hà Giang code)."""

    MOI_DANG_KY = 1  # Mới đăng ký
    DUOC_TIEP_NHAN = 2  # Được tiếp nhận
    KHONG_DUOC_TIEP_NHAN = 3  # Không được tiếp nhận
    DANG_XU_LY = 4  # Đang xử lý
    YEU_CAU_BO_SUNG = 5  # Yêu cầu bổ sung giấy tờ
    YEU_CAU_NGHIA_VU_TAI_CHINH = 6  # Yêu cầu thực hiện nghĩa vụ tài chính
    CONG_DAN_RUT_HO_SO = 7  # Công dân yêu cầu rút hồ sơ
    DUNG_XU_LY = 8  # Dừng xử lý
    DA_XU_LY_XONG = 9  # Đã xử lý xong
    DA_TRA_KET_QUA = 10  # Đã trả kết quả

    @property
    def label(self) -> str:
        """The Vietnamese label, used as default progress text."""
        return STATUS_LABELS[self]


STATUS_LABELS: Final[dict[TrangThaiHoSo, str]] = {
    TrangThaiHoSo.MOI_DANG_KY: "Mới đăng ký",
    TrangThaiHoSo.DUOC_TIEP_NHAN: "Được tiếp nhận",
    TrangThaiHoSo.KHONG_DUOC_TIEP_NHAN: "Không được tiếp nhận",
    TrangThaiHoSo.DANG_XU_LY: "Đang xử lý",
    TrangThaiHoSo.YEU_CAU_BO_SUNG: "Yêu cầu bổ sung giấy tờ",
    TrangThaiHoSo.YEU_CAU_NGHIA_VU_TAI_CHINH: "Yêu cầu thực hiện nghĩa vụ tài chính",
    TrangThaiHoSo.CONG_DAN_RUT_HO_SO: "Công dân yêu cầu rút hồ sơ",
    TrangThaiHoSo.DUNG_XU_LY: "Dừng xử lý",
    TrangThaiHoSo.DA_XU_LY_XONG: "Đã xử lý xong",
    TrangThaiHoSo.DA_TRA_KET_QUA: "Đã trả kết quả",
}


class LoaiDoiTuong(IntEnum):
    """Applicant kind (§4.3 [C]); sent as the string "1"/"2" like S-OCPS does."""

    CONG_DAN = 1  # citizen
    DOANH_NGHIEP = 2  # business / organisation


class HinhThuc(IntEnum):
    """Delivery channel (§4.3): 0 default, 1 via postal service ([I] from the OpenCPS mapping)."""

    MAC_DINH = 0
    BUU_CHINH = 1


#: The ``isUpdating`` parameter of DongBoHoSoMC is the *string* "True" or "False" (§4.2 [C]).
IS_UPDATING_TRUE: Final = "True"
IS_UPDATING_FALSE: Final = "False"


def encode_is_updating(is_updating: bool) -> str:
    """``True`` → "True" (update of a dossier the portal has), ``False`` → "False" (first push)."""
    return IS_UPDATING_TRUE if is_updating else IS_UPDATING_FALSE


def decode_is_updating(value: object) -> bool:
    """Inverse of :func:`encode_is_updating`; anything but the two exact strings is refused."""
    if value == IS_UPDATING_TRUE:
        return True
    if value == IS_UPDATING_FALSE:
        return False
    raise ValueError(f'isUpdating must be the string "True" or "False", got {value!r}')


# Service names (§4.2 [C]).
DONG_BO_HO_SO_MC: Final = "DongBoHoSoMC"
CAP_NHAT_TIEN_DO_HO_SO_MC: Final = "CapNhatTienDoHoSoMC"
TRA_CUU_HO_SO: Final = "TraCuuHoSo"
LAY_THU_TUC: Final = "LayThuTuc"
LAY_DANH_SACH_TTHC: Final = "LayDanhSachTTHC"

#: Catalogue reads (§4.2 [C]: S-OCPS and the Viettel one-gate constants).
CATALOGUE_SERVICES: Final = frozenset(
    {
        "LayDanhMucCoQuan",
        "LayDanhMucLinhVuc",
        "LayDanhMucGioiTinh",
        "LayDanhMucTinhThanh",
        "LayDanhMucQuanHuyen",
        "LayDanhMucPhuongXa",
        "LayDanhMucQuocGia",
        "LayDanhMucDanToc",
        "LayDanhMucTonGiao",
        "LayDanhMucTinhTrangHonNhan",
        "LayDanhMucDoiTuong",
        "LayDanhMucCapThucHien",
        "LayDanhMucCanCuPhapLy",
        "LayDanhMucLePhi",
    }
)

WRITE_SERVICES: Final = frozenset({DONG_BO_HO_SO_MC, CAP_NHAT_TIEN_DO_HO_SO_MC})
READ_SERVICES: Final = frozenset({TRA_CUU_HO_SO, LAY_THU_TUC, LAY_DANH_SACH_TTHC}) | CATALOGUE_SERVICES

#: The error_code of a successful call: "00" (or 0 on login) (§4.1 [C]).
OK_CODES: Final = frozenset({"00", "0"})


def is_ok_code(value: object) -> bool:
    """True for the success codes "00", "0" and 0 — the portal uses both spellings (§4.1)."""
    return str(value).strip() in OK_CODES if value is not None else False
