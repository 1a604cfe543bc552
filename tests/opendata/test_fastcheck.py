"""The compiled Table Schema check never accepts what frictionless refuses (it may only be less sure).

Rows are generated around the edges (missing values, wrong types, bounds, patterns, odd datetimes) for a
schema like the demo's; whenever the fast check says "certainly valid", frictionless must agree. And on
the demo's own rows it is sure, so a publish does not pay for frictionless.
"""

from __future__ import annotations

import time

from frictionless import Resource, Schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lgsp.opendata.fastcheck import certainly_valid
from lgsp.opendata.sample_source import SourceState, readings
from lgsp.opendata.validate import _as_csv

FIELDS = [
    {"name": "ma_tram", "type": "string", "constraints": {"required": True, "pattern": "CT-[A-Z]{2}-[0-9]{2}"}},
    {"name": "thoi_gian", "type": "datetime", "constraints": {"required": True}},
    {"name": "pm25", "type": "number", "constraints": {"minimum": 0}},
    {"name": "aqi", "type": "integer", "constraints": {"minimum": 0, "maximum": 500}},
    {"name": "ngay", "type": "date"},
    {"name": "ghi_chu", "type": "string", "constraints": {"maxLength": 5}},
]
NAMES = [f["name"] for f in FIELDS]

texts = st.sampled_from(["", " ", "CT-NK-01", "CT-nk-01", "CT-NK-011", "x", "12", "-1", "0", "500", "501", "1e3",
                         "-0", "-1e-400", ".5", "5.", "+4", "007", "4.0", "nan", "inf", "2026-11-25",
                         "2026-11-25T00:00:00+07:00", "2026-11-25T00:00:00", "2026-11-25T00:00:00Z",
                         "2026-02-30T00:00:00", "2026-11-25T24:00:00", "2026-11-25 00:00:00", "2026-13-01",
                         "2026-11-25T00:00:00.123456+07:00", "abcdef", "abcde"])
values = st.one_of(st.none(), texts, st.integers(-3, 600), st.floats(allow_nan=True, allow_infinity=True),
                   st.booleans())


EDGES: dict[str, list[object]] = {
    "ma_tram": ["CT-NK-01", "CT-CR-99", "CT-nk-01", "CT-NK-011", " CT-NK-01", "CT-NK-01\n"],
    "thoi_gian": ["2026-11-25T00:00:00+07:00", "2026-11-25T00:00:00Z", "2026-11-25T00:00:00",
                  "2026-11-25T00:00:00.5+07:00", "2026-02-30T00:00:00", "2026-11-25", "2026-11-25 00:00:00",
                  "2026-11-25T00:00:00+24:00"],
    "pm25": [0, 0.0, 18.0, "18.0", "-0", "-1e-400", "1e-400", "1e3", ".5", "5.", -0.1, 1e308, "1,5", " 5"],
    "aqi": [0, 500, 501, -1, "40", "007", "+4", "4.0", 4.0, 4.5, " 4", "1e2"],
    "ngay": ["2026-11-25", "2026-02-30", "2026-11-25T00:00:00", "20261125", "2026-1-5"],
    "ghi_chu": ["abcde", "abcdef", "xyz", "ắăâ", 12, "a\u0301bcde"],
}


def field_values(name: str) -> st.SearchStrategy[object]:
    return st.one_of(st.sampled_from(EDGES[name]), values)


rows = st.lists(st.fixed_dictionaries({name: st.one_of(st.sampled_from(EDGES[name]), values) for name in NAMES}),
                min_size=1, max_size=3)


def frictionless_valid(fields: list[dict[str, object]], data: list[dict[str, object]]) -> bool:
    resource = Resource(data=_as_csv([str(f["name"]) for f in fields], data), format="csv", encoding="utf-8",
                        schema=Schema.from_descriptor({"fields": fields}))
    return bool(resource.validate().valid)


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_certainly_valid_implies_frictionless_valid(data: list[dict[str, object]]) -> None:
    if certainly_valid(FIELDS, data):
        assert frictionless_valid(FIELDS, data), data


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.fixed_dictionaries({name: texts for name in NAMES}))
def test_one_row_of_text_as_a_csv_source_gives_it(row: dict[str, object]) -> None:
    if certainly_valid(FIELDS, [row]):
        assert frictionless_valid(FIELDS, [row]), row


@settings(max_examples=150, derandomize=True, deadline=None)
@given(st.data())
def test_each_field_check_agrees_with_frictionless_when_sure(data: st.DataObject) -> None:
    for field in FIELDS:
        name = str(field["name"])
        value = data.draw(field_values(name), label=name)
        if certainly_valid([field], [{name: value}]):
            assert frictionless_valid([field], [{name: value}]), (field, value)


def test_unmodelled_schemas_are_left_to_frictionless() -> None:
    row = [{"a": "x"}]
    assert not certainly_valid([{"name": "a", "type": "string", "format": "email"}], row)
    assert not certainly_valid([{"name": "a", "type": "string", "constraints": {"unique": True}}], row)
    assert not certainly_valid([{"name": "a", "type": "geopoint"}], row)
    assert not certainly_valid([{"name": "a", "type": "string"}], [{"a": ""}])  # a blank row


def test_the_demo_rows_are_checked_without_frictionless() -> None:
    demo = [{k: v for k, v in r.items() if k in ("ma_tram", "thoi_gian", "pm25", "aqi")}
            for r in readings(SourceState(rows=20_000))]
    fields = [f for f in FIELDS if f["name"] in ("ma_tram", "thoi_gian", "pm25", "aqi")]
    if "ma_tram" not in demo[0]:  # the sample source names its columns in English
        demo = [{"ma_tram": r["station_id"], "thoi_gian": r["measured_at"], "pm25": r["pm25"], "aqi": r["aqi"]}
                for r in readings(SourceState(rows=20_000))]
    started = time.perf_counter()
    assert certainly_valid(fields, demo)
    assert time.perf_counter() - started < 2.0  # ~0.1 s here; frictionless needs seconds for these rows


def test_equal_values_of_different_types_are_not_merged() -> None:
    """Columns are checked on distinct values; ``1 == 1.0 == True`` must not hide the bool or the float."""
    aqi = [{"name": "aqi", "type": "integer", "constraints": {"minimum": 0, "maximum": 500}}]
    for cells in ([1, True], [True, 1], [4, 4.0], [4.0, 4]):
        assert not certainly_valid(aqi, [{"aqi": v} for v in cells]), cells
    assert certainly_valid(aqi, [{"aqi": v} for v in (1, 1, 500, 0)])


def test_float_fast_path_leaves_bounds_and_non_finite_to_the_exact_check() -> None:
    pm = [{"name": "pm", "type": "number", "constraints": {"minimum": 0.1, "maximum": 500}}]
    assert certainly_valid(pm, [{"pm": 0.2}, {"pm": 499.9}])
    for value in (0.05, 500.5, float("nan"), float("inf"), -float("inf")):
        assert not certainly_valid(pm, [{"pm": value}]), value
    # on a bound the exact check decides; it may be unsure (then frictionless runs), never wrongly sure
    for value in (0.1, 500.0, 500):
        assert frictionless_valid(pm, [{"pm": value}]) or not certainly_valid(pm, [{"pm": value}]), value
    assert certainly_valid(pm, [{"pm": 500}])
