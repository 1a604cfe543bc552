"""Two sample department services, as real HTTP apps (the demo and the tests start them on 127.0.0.1).

- Civil status records of the Department of Justice (Sở Tư pháp): birth registration lookups.
- Air-quality readings of the Department of Natural Resources and Environment (Sở Tài nguyên và Môi
  trường), the sample open dataset.
All people and readings are invented.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BIRTH_RECORDS = {
    "KS-2025-000123": {"so_dang_ky": "KS-2025-000123", "ho_ten": "Nguyễn Thị Mai", "ngay_sinh": "2025-03-14",
                       "noi_dang_ky": "UBND phường Ninh Kiều", "gioi_tinh": "Nữ"},
    "KS-2025-000456": {"so_dang_ky": "KS-2025-000456", "ho_ten": "Trần Văn Nam", "ngay_sinh": "2025-06-02",
                       "noi_dang_ky": "UBND phường Cái Khế", "gioi_tinh": "Nam"},
}

STATIONS = [
    {"ma_tram": "CT-NK-01", "ten_tram": "Ninh Kiều", "ma_phuong_xa": "31117", "vi_do": 10.0341, "kinh_do": 105.7880},
    {"ma_tram": "CT-CR-01", "ten_tram": "Cái Răng", "ma_phuong_xa": "31186", "vi_do": 10.0030, "kinh_do": 105.7650},
]


def _readings() -> list[dict[str, object]]:
    rows = []
    for hour in range(24):
        for i, station in enumerate(STATIONS):
            rows.append({"ma_tram": station["ma_tram"], "thoi_gian": f"2026-11-25T{hour:02d}:00:00+07:00",
                         "pm25": round(18.0 + 7 * ((hour * 7 + i * 3) % 11) / 10, 1),
                         "pm10": round(30.0 + 9 * ((hour * 5 + i) % 13) / 10, 1),
                         "aqi": 40 + (hour * 3 + i * 5) % 45})
    return rows


async def birth_record(request: Request) -> JSONResponse:
    record = BIRTH_RECORDS.get(request.path_params["number"])
    if record is None:
        return JSONResponse({"error": "không tìm thấy", "so_dang_ky": request.path_params["number"]}, 404)
    return JSONResponse({**record, "nguoi_tra_cuu": request.headers.get("x-lgsp-user-id"),
                         "he_thong_goi": request.headers.get("x-lgsp-client")})


async def birth_register(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"ket_qua": "da_tiep_nhan", "ho_ten": body.get("ho_ten")}, 201)


def civil_status_app() -> Starlette:
    return Starlette(routes=[
        Route("/birth-records/{number}", birth_record),
        Route("/birth-records", birth_register, methods=["POST"]),
    ])


async def stations(_: Request) -> JSONResponse:
    return JSONResponse(STATIONS)


async def readings(_: Request) -> JSONResponse:
    return JSONResponse(_readings())


def air_quality_app() -> Starlette:
    return Starlette(routes=[Route("/stations", stations), Route("/readings", readings)])
