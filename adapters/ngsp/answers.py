"""The simulated national databases' business logic: answer lookups from the seeded records.

Kept apart from the HTTP/SOAP shell so the rules (what counts as a match, what a business record holds)
read on their own.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping

from lxml import etree

from .paths import NGSP_NS
from .seed import Business, Citizen

__all__ = ["answer_business", "answer_citizen", "now_vn"]

_VN = dt.timezone(dt.timedelta(hours=7))


def now_vn() -> str:
    """Current time in Vietnam (UTC+7), second precision, as national services stamp their answers."""
    return dt.datetime.now(_VN).replace(microsecond=0).isoformat()


def _norm(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NGSP_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _field(request: etree._Element, tag: str) -> str:
    return (request.findtext(f"{{{NGSP_NS}}}{tag}") or "").strip()


def answer_citizen(request: etree._Element, citizens: Mapping[str, Citizen]) -> etree._Element:
    """XacThucThongTinCongDanResponse: KHOP when ID, name (case/space-insensitive) and birth date match."""
    resp = etree.Element(f"{{{NGSP_NS}}}XacThucThongTinCongDanResponse", nsmap={"ngsp": NGSP_NS})
    citizen = citizens.get(_field(request, "SoDinhDanh"))
    mismatched: list[str] = []
    if citizen is not None:
        if _norm(_field(request, "HoVaTen")) != _norm(citizen.ho_va_ten):
            mismatched.append("HoVaTen")
        if _field(request, "NgaySinh")[:10] != citizen.ngay_sinh.isoformat():
            mismatched.append("NgaySinh")
    code = "KHONG_TIM_THAY" if citizen is None else ("KHONG_KHOP" if mismatched else "KHOP")
    _sub(resp, "KetQuaXacThuc", "true" if code == "KHOP" else "false")
    _sub(resp, "MaKetQua", code)
    for name in mismatched:
        _sub(resp, "TruongKhongKhop", name)
    _sub(resp, "ThoiDiemXacThuc", now_vn())
    return resp


def answer_business(request: etree._Element, businesses: Mapping[str, Business]) -> etree._Element:
    """TraCuuDoanhNghiepResponse for a tax code (TimThay=false when unknown)."""
    resp = etree.Element(f"{{{NGSP_NS}}}TraCuuDoanhNghiepResponse", nsmap={"ngsp": NGSP_NS})
    business = businesses.get(_field(request, "MaSoThue"))
    _sub(resp, "TimThay", "true" if business else "false")
    if business is not None:
        dn = _sub(resp, "DoanhNghiep")
        _sub(dn, "MaSoThue", business.ma_so_thue)
        _sub(dn, "TenDoanhNghiep", business.ten_doanh_nghiep)
        if business.ten_tieng_anh:
            _sub(dn, "TenTiengAnh", business.ten_tieng_anh)
        _sub(dn, "LoaiHinh", business.loai_hinh)
        _sub(dn, "NgayThanhLap", business.ngay_thanh_lap.isoformat())
        _sub(dn, "VonDieuLe", f"{business.von_dieu_le:f}")
        if business.so_lao_dong is not None:
            _sub(dn, "SoLaoDong", str(business.so_lao_dong))
        _sub(dn, "TrangThai", business.trang_thai)
        _sub(dn, "DiaChiTruSo", business.dia_chi_tru_so)
        for rep in business.nguoi_dai_dien:
            el = _sub(dn, "NguoiDaiDien")
            _sub(el, "HoVaTen", rep.ho_va_ten)
            _sub(el, "ChucDanh", rep.chuc_danh)
        for ind in business.nganh_nghe:
            el = _sub(dn, "NganhNghe")
            _sub(el, "MaNganh", ind.ma_nganh)
            _sub(el, "TenNganh", ind.ten_nganh)
            _sub(el, "LaNganhChinh", "true" if ind.la_nganh_chinh else "false")
    _sub(resp, "ThoiDiemCapNhat", now_vn())
    return resp
