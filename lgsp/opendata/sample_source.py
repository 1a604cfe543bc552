"""A sample department service: Cần Thơ air-quality readings, as a real HTTP app.

Stands for the Sở Tài nguyên và Môi trường's monitoring system behind the gateway, at the gateway's
route shape ``/services/{agency}/{system}/{service}/{path}``. Used by the demo, the end-to-end tests
and the benchmark. ``SourceState`` switches the faults the tests need: down (503), rows failing the
schema, an undeclared field carrying citizen ID numbers, and a data version (changes the readings).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SERVICE_ID = "000.00.12.H10/QTMT/chat-luong-khong-khi"
STATIONS = (
    ("CT-NK-01", "Trạm Ninh Kiều", "916"),
    ("CT-BT-01", "Trạm Bình Thủy", "918"),
    ("CT-CR-01", "Trạm Cái Răng", "919"),
    ("CT-OM-01", "Trạm Ô Môn", "917"),
    ("CT-TN-01", "Trạm Thốt Nốt", "923"),
)
OPERATORS = (("Nguyễn Văn An", "0912345678"), ("Trần Thị Bình", "0987654321"), ("Lê Văn Cường", "0901234567"))
FIELDS = ("station_id", "station_name", "district_code", "measured_at", "pm25", "pm10", "no2", "aqi",
          "operator_name", "operator_phone")


@dataclass
class SourceState:
    rows: int = 240
    version: int = 1
    mode: str = "ok"  # ok | down | invalid | leak
    token: str | None = None
    requests: int = 0
    #: served as is (application/json) instead of the export: what a broken department system sends
    body: bytes | None = None


def readings(state: SourceState) -> list[dict[str, object]]:
    """Deterministic readings: same state -> byte-identical output (so "unchanged" is testable).

    Written to cost the simulator little per row (one timestamp string per hour, not per reading), so a
    benchmark's fetch step measures the transfer and the pipeline, not this stand-in's own formatting."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    per_hour = len(STATIONS)
    hours = [(start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")
             for h in range((state.rows + per_hour - 1) // per_hour)]
    out: list[dict[str, object]] = []
    offset = state.version * 104729
    for i in range(state.rows):
        station_id, name, district = STATIONS[i % per_hour]
        operator, phone = OPERATORS[i % len(OPERATORS)]
        k = (i * 7919 + offset) % 1000
        pm25 = round(8 + k / 25, 1)
        row: dict[str, object] = {
            "station_id": station_id,
            "station_name": name,
            "district_code": district,
            "measured_at": hours[i // per_hour],
            "pm25": pm25,
            "pm10": round(pm25 * 1.6, 1),
            "no2": round(10 + (k % 300) / 10, 1),
            "aqi": int(min(500, pm25 * 4.2)),
            "operator_name": operator,
            "operator_phone": phone,
        }
        if state.mode == "invalid" and i % 50 == 3:
            row["pm25"] = "n/a"
        if state.mode == "leak":
            row["nguoi_bao_cao"] = f"0920{(90000000 + i * 37) % 100000000:08d}"  # 12-digit CCCD-shaped
        out.append(row)
    return out


def export(state: SourceState, path: str) -> tuple[bytes, str] | None:
    """The body and media type of ``path`` for this state, or None for an unknown path."""
    if path not in ("readings.csv", "readings"):
        return None
    rows = readings(state)
    if path == "readings.csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().encode("utf-8"), "text/csv; charset=utf-8"
    return json.dumps({"data": rows}, ensure_ascii=False).encode("utf-8"), "application/json"


def create_app(state: SourceState | None = None) -> Starlette:
    state = state or SourceState()
    # The last export made, by the state it was made from: like a monitoring system serving its hourly
    # export file, the stand-in builds a body once per data state. It runs inside the benchmark's and the
    # tests' process, so building 100k readings per request would be charged to the pipeline under test.
    cache: dict[tuple[int, int, str, str], tuple[bytes, str] | None] = {}

    async def service(request: Request) -> Response:
        state.requests += 1
        if state.token and request.headers.get("Authorization") != f"Bearer {state.token}":
            return JSONResponse({"title": "missing or wrong bearer token"}, status_code=401)
        if state.mode == "down":
            return JSONResponse({"title": "monitoring database offline"}, status_code=503)
        if state.body is not None:
            return Response(state.body, media_type="application/json")
        path = request.path_params["path"]
        key = (state.rows, state.version, state.mode, path)
        if key not in cache:
            cache.clear()
            cache[key] = export(state, path)
        made = cache[key]
        if made is None:
            return JSONResponse({"title": f"no such resource {path}"}, status_code=404)
        return Response(made[0], media_type=made[1])

    app = Starlette(routes=[Route("/services/" + SERVICE_ID + "/{path:path}", service)])
    app.state.source = state
    return app


def main() -> None:
    """``python -m lgsp.opendata.sample_source --port 8801 [--rows N] [--token T]`` for the demo."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description="sample department service: Cần Thơ air quality")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8801)
    parser.add_argument("--rows", type=int, default=240)
    parser.add_argument("--token", default=None, help="require this bearer token")
    args = parser.parse_args()
    uvicorn.run(create_app(SourceState(rows=args.rows, token=args.token)), host=args.host, port=args.port,
                log_level="warning")


if __name__ == "__main__":
    main()
