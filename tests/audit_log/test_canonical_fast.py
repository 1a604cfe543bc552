"""The writer's fused fast path gives exactly the general path's bytes, time and errors, for any entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from lgsp.audit.canonical import (
    CanonicalError,
    canonical_entry,
    canonical_entry_bytes,
    pick_entry_fields,
    writer_entry_bytes,
)
from lgsp.audit.writer import _sequence

texts = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(["é", "ệ", "\U0001f600", "\n", '"'])
                | st.characters(max_codepoint=127), max_size=12)
hexes = st.sampled_from(["ab" * 32, "AB" * 32, "a" * 63, "0" * 64])
optional_text = st.none() | texts | st.integers(0, 3)
ints = st.integers(-1, 2**53) | st.sampled_from([True, 7.0, "5"])
times = st.sampled_from([
    datetime(2026, 12, 7, 1, 2, 3, 456789, tzinfo=UTC),
    datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC),
    datetime(2026, 12, 7, 8, 2, 3, 5, tzinfo=timezone(timedelta(hours=7))),
    datetime(2026, 12, 7, 1, 2, 3),
    "2026-12-07T01:02:03.000004Z",
    "yesterday",
])
extras = st.none() | st.dictionaries(st.sampled_from(["attempts", "operation", "é", "\U0001f600", "a"]),
                                     st.integers(0, 9) | texts | st.floats(0, 1) | st.booleans(), max_size=3)


def usually(draw: st.DrawFn, valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> Any:
    """Mostly the gateway's shape (so the fast path runs and its output is compared), sometimes not."""
    return draw(valid) if draw(st.integers(0, 9)) < 8 else draw(odd)


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    some_text = texts.filter(bool)
    entry: dict[str, Any] = {
        "time": usually(draw, st.datetimes(timezones=st.just(UTC)), times),
        "message_id": usually(draw, some_text, texts), "method": usually(draw, st.just("GET"), st.just("")),
        "path": usually(draw, some_text, texts), "status": usually(draw, st.integers(0, 999), ints),
        "latency_us": usually(draw, st.integers(0, 10**9), ints),
        "extra": usually(draw, st.just({}), extras),
    }
    for name in ("client", "correlation_id", "service", "user_id", "problem_type"):
        entry[name] = usually(draw, st.none() | texts, optional_text)
    for name in ("request_sha256", "response_sha256", "signature_report_sha256"):
        entry[name] = usually(draw, st.none() | st.binary(min_size=32, max_size=32).map(bytes.hex), hexes)
    if draw(st.integers(0, 9)) == 0:
        entry["v"] = draw(st.sampled_from([1, 2, True]))
    if draw(st.booleans()):
        entry["unrelated_column"] = "ignored"
    return entry


def general(entry: dict[str, Any], index: int) -> tuple[bytes, str] | str:
    picked = pick_entry_fields(entry)
    picked["index"] = index
    try:
        return canonical_entry_bytes(picked), canonical_entry(picked)["time"]
    except CanonicalError as exc:
        return str(exc)


def fast(entry: dict[str, Any], index: int) -> tuple[bytes, str] | str:
    try:
        return writer_entry_bytes(entry, index)
    except CanonicalError as exc:
        return str(exc)


@settings(derandomize=True, max_examples=600, deadline=None)
@given(entries(), st.integers(0, 2**53 + 1))
def test_fast_path_equals_general_path(entry: dict[str, Any], index: int) -> None:
    assert fast(entry, index) == general(entry, index)


def test_the_gateway_shape_takes_the_fast_path_and_the_sqlite_time_text_is_the_columns() -> None:
    entry = {"time": datetime(2026, 12, 7, 1, 2, 3, 7, tzinfo=UTC), "message_id": "m", "method": "GET", "path": "/",
             "status": 200, "latency_us": 5, "extra": {}, "client": None, "correlation_id": None, "service": None,
             "user_id": None, "problem_type": None, "request_sha256": None, "response_sha256": None,
             "signature_report_sha256": None}
    assert fast(entry, 3) == general(entry, 3)
    dialect = sqlite.dialect()
    rows, _, _ = _sequence(dialect, [entry], 3, bytes(32))
    column = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    assert column is not None
    assert "2026-12-07 01:02:03.000007" in rows[0] and column(entry["time"]) in rows[0]
