"""Sample catalogue data served by the simulator (``LayThuTuc``, ``LayDanhMuc*``).

These are *sample* rows for tests and the demo, not the national catalogue: procedure codes follow the
national ``x.xxxxxx`` shape but the names/fields attached to them are illustrative. Field names are
facts: ``LayThuTuc`` per §4.2 [C]; ``MADONVI``/``TENDONVI``/``CAPDONVI`` (LayDanhMucCoQuan) and
``MALINHVUC``/``TENLINHVUC``/``MANGANH`` (LayDanhMucLinhVuc) as read by S-OCPS [C]; the other catalogues
use ``MA``/``TEN`` pairs, which is our assumption [I].
"""

from __future__ import annotations

from typing import Any

SAMPLE_PROCEDURE_CODE = "1.001193"
SAMPLE_AGENCY_CODE = "000.00.12.H10"


def _procedure(code: str, name: str, field_code: str, field_name: str, agency: str) -> dict[str, Any]:
    return {
        "MATTHC": code,
        "TENTTHC": name,
        "LINHVUCTHUCHIEN": [{"MALINHVUC": field_code, "TENLINHVUC": field_name}],
        "TRINHTUTHUCHIEN": [{"TRUONGHOP": "", "TRINHTU": [{"TENTRINHTU": "Nộp hồ sơ"}]}],
        "CACHTHUCTHUCHIEN": [
            {
                "KENH": 1,
                "THOIGIAN": [{"THOIGIANGIAIQUYET": 3, "DONVITINH": "Ngày làm việc", "MOTA": "", "PHILEPHI": []}],
            }
        ],
        "THANHPHANHOSO": [],
        "PHILEPHI": [],
        "KETQUATHUCHIEN": [{"MAKETQUA": "KQ01", "TENKETQUA": "Giấy chứng nhận"}],
        "CANCUPHAPLY": [],
        "COQUANTHUCHIEN": [{"MACOQUAN": agency, "TENCOQUAN": "Ủy ban nhân dân (mẫu)"}],
        "YEUCAU": "",
    }


def procedures() -> list[dict[str, Any]]:
    """Sample procedures, keyed by ``MATTHC`` in the simulator."""
    return [
        _procedure(SAMPLE_PROCEDURE_CODE, "Đăng ký khai sinh (mẫu)", "G09-TP03", "Hộ tịch", SAMPLE_AGENCY_CODE),
        _procedure("2.000889", "Cấp giấy phép xây dựng (mẫu)", "G09-XD01", "Hoạt động xây dựng", SAMPLE_AGENCY_CODE),
        _procedure("1.000000", "Thủ tục thử nghiệm (mẫu)", "G09-TN00", "Thử nghiệm", SAMPLE_AGENCY_CODE),
    ]


def catalogues() -> dict[str, list[dict[str, Any]]]:
    """Sample rows per catalogue service."""
    return {
        "LayDanhMucCoQuan": [
            {
                "MADONVI": SAMPLE_AGENCY_CODE,
                "TENDONVI": "Ủy ban nhân dân thành phố Cần Thơ (mẫu)",
                "CAPDONVI": "2",
            },
            {"MADONVI": "000.01.12.H10", "TENDONVI": "Sở Tư pháp (mẫu)", "CAPDONVI": "3"},
        ],
        "LayDanhMucLinhVuc": [
            {"MALINHVUC": "G09-TP03", "TENLINHVUC": "Hộ tịch", "MANGANH": SAMPLE_AGENCY_CODE},
            {"MALINHVUC": "G09-XD01", "TENLINHVUC": "Hoạt động xây dựng", "MANGANH": SAMPLE_AGENCY_CODE},
        ],
        "LayDanhMucGioiTinh": [{"MA": "1", "TEN": "Nam"}, {"MA": "2", "TEN": "Nữ"}],
        "LayDanhMucTinhThanh": [{"MA": "92", "TEN": "Thành phố Cần Thơ"}],
        "LayDanhMucQuanHuyen": [{"MA": "916", "TEN": "Quận Ninh Kiều", "MATINH": "92"}],
        "LayDanhMucPhuongXa": [{"MA": "31117", "TEN": "Phường Cái Khế", "MAHUYEN": "916"}],
        "LayDanhMucQuocGia": [{"MA": "VN", "TEN": "Việt Nam"}],
        "LayDanhMucDanToc": [{"MA": "01", "TEN": "Kinh"}],
        "LayDanhMucTonGiao": [{"MA": "00", "TEN": "Không"}],
        "LayDanhMucTinhTrangHonNhan": [{"MA": "1", "TEN": "Chưa kết hôn"}, {"MA": "2", "TEN": "Đã kết hôn"}],
        "LayDanhMucDoiTuong": [{"MA": "1", "TEN": "Công dân"}, {"MA": "2", "TEN": "Doanh nghiệp, tổ chức"}],
        "LayDanhMucCapThucHien": [{"MA": "1", "TEN": "Cấp tỉnh"}, {"MA": "2", "TEN": "Cấp xã"}],
        "LayDanhMucCanCuPhapLy": [{"MA": "123/2015/NĐ-CP", "TEN": "Nghị định về hộ tịch (mẫu)"}],
        "LayDanhMucLePhi": [{"MA": "LP01", "TEN": "Lệ phí hộ tịch (mẫu)"}],
    }
