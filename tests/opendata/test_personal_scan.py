"""The personal-data scan's column-wise fast path against the plain row-by-row scan it replaced.

The scan decides clean columns on their distinct values with one combined pattern applied by ``map``;
a column it calls clean must be one the row-by-row scan (three anchored patterns, a 6-60 character
length test on the stripped text, bools/floats/None skipped) finds nothing in -- and a column with a hit
must be reported exactly as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lgsp.opendata import load_specs
from lgsp.opendata.columns import Columns
from lgsp.opendata.errors import Finding
from lgsp.opendata.personal import MAX_ROWS_REPORTED, PATTERNS, _column_clean, _looks_personal, scan

DEMO = load_specs(Path(__file__).resolve().parents[2] / "lgsp" / "opendata" / "datasets")["can-tho-air-quality"]


def reference_scan(rows: list[dict[str, Any]], exempt: set[str]) -> list[Finding]:
    """Every row, every field, the three patterns in turn: the scan as first written."""
    findings: dict[tuple[str, str], Finding] = {}
    for index, row in enumerate(rows, start=1):
        for name, value in row.items():
            if name in exempt or value is None or isinstance(value, bool | float):
                continue
            text = str(value).strip()
            if not 6 <= len(text) <= 60:
                continue
            for pattern_name, pattern in PATTERNS.items():
                if pattern.match(text):
                    finding = findings.setdefault((name, pattern_name), Finding(name, pattern_name))
                    finding.count += 1
                    if len(finding.rows) < MAX_ROWS_REPORTED:
                        finding.rows.append(index)
                    break
    return list(findings.values())


def reference_looks_personal(value: Any) -> bool:
    if value is None or isinstance(value, bool | float):
        return False
    text = str(value).strip()
    return 6 <= len(text) <= 60 and any(pattern.match(text) for pattern in PATTERNS.values())


# Texts near the patterns: digits, phone separators, e-mail shapes, whitespace (stripped or not),
# newlines (where "$" and the length test could disagree), and lengths around 6 and 60.
near_personal = st.one_of(
    st.text(alphabet="0123456789+ .-", min_size=4, max_size=16),
    st.text(alphabet="0123456789+ .-@ab\n\t\u00a0é", max_size=14),
    st.builds(lambda user, host, tld, pad: pad + f"{user}@{host}.{tld}" + pad,
              st.text(alphabet="ab.1 @", min_size=1, max_size=30), st.text(alphabet="ab.1", min_size=1, max_size=30),
              st.text(alphabet="abZ1", min_size=1, max_size=4), st.sampled_from(["", " ", "\n", " \n "])),
    st.sampled_from(["092012345678", "0920123456789", "+84 912 345 678", "84987654321", "0912345678\n",
                     "\n0912345678", "0912345678\n\n", "a@b.cd", "x" * 55 + "@b.cd", "x" * 56 + "@b.cd"]),
)
cells = st.one_of(st.none(), st.booleans(), near_personal, st.integers(0, 10**12),
                  st.sampled_from([84912345678, 84912345678.0, 912345678, 92012345678]), st.floats(),
                  st.lists(st.integers(), max_size=2))


@settings(max_examples=1500, deadline=None)
@given(cells)
def test_one_cell_is_judged_as_by_the_three_patterns(value: Any) -> None:
    assert _looks_personal(value) == reference_looks_personal(value)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.none(), near_personal), max_size=8))
def test_a_text_column_is_clean_exactly_when_no_cell_is_personal(column: list[str | None]) -> None:
    columns = Columns([{"note": value} for value in column])
    assert _column_clean(columns, "note") == (not any(map(reference_looks_personal, column)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["note", "code", "operator_phone", "n"]), cells, max_size=4),
                max_size=6))
def test_scan_reports_what_the_row_by_row_scan_reports(rows: list[dict[str, Any]]) -> None:
    assert scan(DEMO, rows) == reference_scan(rows, set(DEMO.personal_fields))
