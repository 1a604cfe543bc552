"""Keep personal data out of open data.

Two jobs: (1) *scan* every field not declared personal for values that look like Vietnamese personal
identifiers -- a hit blocks the run, because the schema is wrong, not the data; (2) *de-identify*
the declared personal fields (drop the column, mask it, or replace it with a keyed hash).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from registry.dataset_spec import DatasetSpec

from .columns import Columns, map_column
from .errors import Finding, PersonalDataBlocked

Row = dict[str, Any]

# Whole-value patterns, so a 12-digit CCCD inside a longer number is not flagged, nor are dates.
PATTERNS: dict[str, re.Pattern[str]] = {
    # Căn cước công dân: 12 digits, first 3 = province of birth (001-096), then sex/century digit.
    "cccd": re.compile(r"^0(?:0[1-9]|[1-8][0-9]|9[0-6])[0-9]{9}$"),
    # 9-digit legacy CMND is too ambiguous on its own; phone numbers: +84/84/0 then a mobile prefix.
    "phone": re.compile(r"^(?:\+?84|0)[ .-]?(?:3|5|7|8|9)[0-9](?:[ .-]?[0-9]){7}$"),
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
}
MAX_ROWS_REPORTED = 20
# Any of the patterns, on a text of 6 to 60 characters (the length test as a lookahead): one match call
# per value instead of three, and one that ``map`` can apply to a whole column at C speed.
_ANY_PATTERN = re.compile(r"(?s)(?=.{6,60}\Z)(?:" + "|".join(f"(?:{p.pattern})" for p in PATTERNS.values()) + ")")
_NEVER_PERSONAL = frozenset({bool, float, type(None)})


def _looks_personal(value: Any) -> bool:
    """Whether one cell would be a finding (the same test :func:`scan` applies per row)."""
    if value is None or isinstance(value, bool | float):
        return False
    return _ANY_PATTERN.match(str(value).strip()) is not None


def _column_clean(columns: Columns, name: str) -> bool:
    """True when no cell of column ``name`` looks personal, testing each distinct value once.

    The test depends on the value alone, so distinct values decide it -- except that Python's set merges
    equal values of different types (``1``, ``1.0``, ``True``) whose text differs; a column with more than
    one type of value is therefore tested cell by cell, never through the set. Booleans and floats are
    never findings, so a column of only those (and missing cells) is clean without a look."""
    all_kinds = columns.types(name)
    if all_kinds <= _NEVER_PERSONAL:
        return True
    kinds = all_kinds - {type(None)}
    if len(kinds) > 1:
        return not any(map(_looks_personal, columns[name]))
    try:
        distinct = columns.distinct(name)
    except TypeError:  # unhashable cells (JSON objects / arrays): test them all
        return not any(map(_looks_personal, columns[name]))
    if kinds == {str}:  # the common case, all in C: strip, then the one combined match
        return not any(map(_ANY_PATTERN.match, map(str.strip, distinct - {None})))
    return not any(map(_looks_personal, distinct))


def scan(spec: DatasetSpec, rows: list[Row], columns: Columns | None = None) -> list[Finding]:
    """Findings in fields that are not declared personal and not exempted with ``personalCheck: false``.

    Clean data (the common case) is decided column by column on distinct values; only when a column
    has a hit are the rows walked one by one to report counts and row numbers. ``columns``: the run's
    shared column view of ``rows`` (made here when not given)."""
    columns = columns if columns is not None else Columns(rows)
    exempt = set(spec.personal_fields) | {
        f["name"] for f in spec.table_schema["fields"] if f.get("personalCheck") is False
    }
    names = columns.names() - exempt
    if all(_column_clean(columns, name) for name in names):
        return []
    findings: dict[tuple[str, str], Finding] = {}
    for index, row in enumerate(rows, start=1):
        for name, value in row.items():
            if name in exempt or value is None or isinstance(value, bool | float):
                continue
            text = str(value).strip()
            if len(text) < 6 or len(text) > 60:
                continue
            for pattern_name, pattern in PATTERNS.items():
                if pattern.match(text):
                    finding = findings.setdefault((name, pattern_name), Finding(name, pattern_name))
                    finding.count += 1
                    if len(finding.rows) < MAX_ROWS_REPORTED:
                        finding.rows.append(index)
                    break
    return list(findings.values())


def ensure_no_personal_data(spec: DatasetSpec, rows: list[Row], columns: Columns | None = None) -> None:
    findings = scan(spec, rows, columns)
    if findings:
        declared = set(spec.field_names)
        raise PersonalDataBlocked(
            f"dataset {spec.slug}: personal-looking values in "
            + ", ".join(f"{f.field} ({f.pattern}, {f.count} rows)" for f in findings)
            + "; declare the field personal in the schema or fix the source",
            {
                "findings": [
                    {"field": f.field, "pattern": f.pattern, "count": f.count, "rows": f.rows,
                     "declared_in_schema": f.field in declared}
                    for f in findings
                ]
            },
        )


def mask_value(value: Any) -> str:
    text = "" if value is None else str(value)
    keep = 2 if len(text) > 6 else 0
    return "*" * (len(text) - keep) + text[len(text) - keep :]


def hash_value(value: Any, key: bytes) -> str:
    return hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()[:16]


def deidentify(spec: DatasetSpec, rows: list[Row], hash_key: bytes) -> list[Row]:
    """Rows with only the published fields, in schema order, personal fields masked or hashed."""
    columns = Columns(rows)
    changed = deidentify_columns(spec, columns, hash_key)
    fields = spec.published_fields
    if not fields:
        return [{} for _ in rows]
    data = [changed[name] if name in changed else columns[name] for name in fields]
    return [dict(zip(fields, values, strict=True)) for values in zip(*data, strict=True)]


def deidentify_columns(spec: DatasetSpec, columns: Columns, hash_key: bytes) -> dict[str, list[Any]]:
    """The published columns that de-identification changes (masked or hashed), as new lists; the
    others are published as they are. Same cells as :func:`deidentify`, computed once per distinct value
    where that is exact (:func:`.columns.distinct_safe`)."""
    changed: dict[str, list[Any]] = {}
    for name in spec.published_fields:
        mode = spec.personal_fields.get(name)
        if mode not in ("mask", "hash"):
            continue

        def one(value: Any, mode: str | None = mode) -> Any:
            if value in (None, ""):
                return value
            return mask_value(value) if mode == "mask" else hash_value(value, hash_key)

        changed[name] = map_column(columns[name], columns.types(name), one)
    return changed
