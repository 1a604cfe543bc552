"""Seeded, entirely fictitious records for the NGSP simulator.

Names are common Vietnamese name patterns combined at random by hand; ID numbers and tax codes are made up
(they follow the format only). No real person's or business's data is used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["BUSINESSES", "CITIZENS", "Business", "Citizen", "Industry", "Representative"]


@dataclass(frozen=True)
class Citizen:
    so_dinh_danh: str
    ho_va_ten: str
    ngay_sinh: dt.date


@dataclass(frozen=True)
class Representative:
    ho_va_ten: str
    chuc_danh: str


@dataclass(frozen=True)
class Industry:
    ma_nganh: str
    ten_nganh: str
    la_nganh_chinh: bool


@dataclass(frozen=True)
class Business:
    ma_so_thue: str
    ten_doanh_nghiep: str
    loai_hinh: str
    ngay_thanh_lap: dt.date
    von_dieu_le: Decimal
    trang_thai: str
    dia_chi_tru_so: str
    nguoi_dai_dien: tuple[Representative, ...]
    nganh_nghe: tuple[Industry, ...] = field(default_factory=tuple)
    ten_tieng_anh: str | None = None
    so_lao_dong: int | None = None


CITIZENS: dict[str, Citizen] = {
    c.so_dinh_danh: c
    for c in (
        Citizen("092090000101", "Nguyễn Văn An", dt.date(1990, 1, 15)),
        Citizen("092185000202", "Trần Thị Bích Ngọc", dt.date(1985, 7, 2)),
        Citizen("092078000303", "Lê Hoàng Phúc", dt.date(1978, 12, 30)),
        Citizen("092199000404", "Phạm Minh Thư", dt.date(1999, 3, 9)),
        Citizen("092066000505", "Huỳnh Văn Tài", dt.date(1966, 10, 20)),
        Citizen("092302000606", "Võ Thị Kim Yến", dt.date(2002, 5, 1)),
        Citizen("092088000707", "Đặng Quốc Bảo", dt.date(1988, 8, 8)),
        Citizen("092195000808", "Bùi Thị Thanh Hương", dt.date(1995, 11, 11)),
    )
}

BUSINESSES: dict[str, Business] = {
    b.ma_so_thue: b
    for b in (
        Business(
            "1800000018",
            "Công ty TNHH Nông sản Tây Đô",
            "Công ty trách nhiệm hữu hạn hai thành viên trở lên",
            dt.date(2011, 4, 18),
            Decimal("15000000000.00"),
            "DANG_HOAT_DONG",
            "Số 12 đường 30/4, phường Ninh Kiều, thành phố Cần Thơ",
            (Representative("Nguyễn Văn An", "Giám đốc"),),
            (
                Industry("0150", "Trồng trọt, chăn nuôi hỗn hợp", True),
                Industry("4620", "Bán buôn nông, lâm sản nguyên liệu", False),
            ),
            ten_tieng_anh="Tay Do Agricultural Products Co., Ltd",
            so_lao_dong=85,
        ),
        Business(
            "1800000025",
            "Công ty Cổ phần Thủy sản Hậu Giang Xanh",
            "Công ty cổ phần",
            dt.date(2015, 9, 1),
            Decimal("7250000000.50"),
            "DANG_HOAT_DONG",
            "Khu công nghiệp Trà Nóc, phường Thới An Đông, thành phố Cần Thơ",
            (
                Representative("Trần Thị Bích Ngọc", "Chủ tịch Hội đồng quản trị"),
                Representative("Lê Hoàng Phúc", "Tổng Giám đốc"),
            ),
            (Industry("1020", "Chế biến, bảo quản thủy sản và các sản phẩm từ thủy sản", True),),
        ),
        Business(
            "1800000032-001",
            "Chi nhánh Công ty TNHH Du lịch Sông Hậu",
            "Chi nhánh",
            dt.date(2019, 2, 25),
            Decimal("0.00"),
            "TAM_NGUNG",
            "Bến Ninh Kiều, phường Ninh Kiều, thành phố Cần Thơ",
            (Representative("Phạm Minh Thư", "Trưởng chi nhánh"),),
        ),
    )
}
