"""The edXML date readers: the canonical fast path must answer exactly what ``strptime`` would."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.vdxp.edxml import formats


def _by_strptime(text: str, canonical: str, variants: tuple[str, ...], as_date: bool) -> object:
    text = text.strip()
    for index, pattern in enumerate((canonical, *variants)):
        try:
            parsed = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return (parsed.date() if as_date else parsed), index == 0
    return "error"


def _ours(parse: object, text: str) -> object:
    try:
        return parse(text)  # type: ignore[operator]
    except ValueError:
        return "error"


EDGE_CASES = [
    "2026/11/20", "2026/02/30", "2026/1/5", "0000/01/01", "2026/13/01", "2026/11/2x", "\uff12026/11/20",
    "2026/11/20 08:00:00", "2026/11/20 24:00:00", "2026/11/20 08:00:60", "2026/11/20 8:00:00",
    "2026/11/20T08:00:00", "2026-11-20", " 2026/11/20 ", "+026/11/20", "2026/+1/20", "2026/11/20 08:00:0\u0663",
    "9999/12/31 23:59:59", "2024/02/29", "2023/02/29 00:00:00", "",
]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_match_strptime(text: str) -> None:
    assert _ours(formats.parse_date, text) == _by_strptime(text, formats.DATE_FORMAT, formats._DATE_VARIANTS, True)
    assert _ours(formats.parse_timestamp, text) == _by_strptime(
        text, formats.TIMESTAMP_FORMAT, formats._TIMESTAMP_VARIANTS, False
    )


def test_canonical_forms_are_read_and_flagged_canonical() -> None:
    assert formats.parse_date("2026/11/20") == (date(2026, 11, 20), True)
    assert formats.parse_timestamp("2026/11/20 08:05:09") == (datetime(2026, 11, 20, 8, 5, 9), True)
    assert formats.parse_date("2026-11-20") == (date(2026, 11, 20), False)
    with pytest.raises(ValueError, match="not a date"):
        formats.parse_date("2026/02/30")


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789/ :-T+\u0663", min_size=8, max_size=20))
def test_any_text_matches_strptime(text: str) -> None:
    assert _ours(formats.parse_date, text) == _by_strptime(text, formats.DATE_FORMAT, formats._DATE_VARIANTS, True)
    assert _ours(formats.parse_timestamp, text) == _by_strptime(
        text, formats.TIMESTAMP_FORMAT, formats._TIMESTAMP_VARIANTS, False
    )
