"""A compiled Table Schema check for the common case: every row valid, plain types and constraints.

frictionless re-reads every cell through its row objects, which costs about 35 µs per row of ten fields
and dominated a publish (bench/opendata.py). Here each field's check is compiled once into a small
closure and run over the rows as Python values. The result is only ever "certainly valid" or "not sure":
anything this module does not model exactly (another type or format, ``unique``, a blank row, a value of
an unexpected Python type, a value that fails a check) answers "not sure", and then frictionless decides
and writes the report, as before. So this can make validation faster, never more permissive.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .columns import Columns

Check = Callable[[Any], bool]
_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_INTEGER = re.compile(r"-?\d+")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CONSTRAINTS = {"required", "pattern", "minimum", "maximum", "minLength", "maxLength", "enum"}
_FIELD_KEYS = {"name", "type", "constraints", "title", "description", "format", "personal", "personalCheck"}


class Unsupported(Exception):
    """The schema uses something this module does not model exactly: leave it to frictionless."""


def _missing(value: Any) -> bool:
    return value is None or value == ""


def _number(value: Any) -> Decimal | None:
    """As frictionless reads it: a Decimal of the text (the CSV cell is ``str(value)``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value)) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return Decimal(value)
    return None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def _datetime(value: Any) -> bool:
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _date(value: Any) -> bool:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def compile_field(field: dict[str, Any]) -> Check:
    """One field's check: True only when frictionless would certainly accept the value."""
    if set(field) - _FIELD_KEYS or field.get("format", "default") != "default":
        raise Unsupported(field.get("name"))
    kind = field.get("type", "string")
    constraints = field.get("constraints") or {}
    if set(constraints) - _CONSTRAINTS:
        raise Unsupported(field.get("name"))
    required = bool(constraints.get("required"))
    low, high = constraints.get("minimum"), constraints.get("maximum")
    if kind == "string":
        pattern = re.compile(constraints["pattern"]) if "pattern" in constraints else None
        shortest, longest = constraints.get("minLength"), constraints.get("maxLength")
        allowed = set(constraints["enum"]) if "enum" in constraints else None
        if low is not None or high is not None:
            raise Unsupported(field.get("name"))

        def check_string(value: Any) -> bool:
            if _missing(value):
                return not required
            if not isinstance(value, str):
                return False
            return ((pattern is None or pattern.fullmatch(value) is not None)
                    and (shortest is None or len(value) >= shortest)
                    and (longest is None or len(value) <= longest)
                    and (allowed is None or value in allowed))

        return check_string
    if "pattern" in constraints or "minLength" in constraints or "maxLength" in constraints \
            or "enum" in constraints:
        raise Unsupported(field.get("name"))
    if kind in ("number", "integer"):
        parse: Callable[[Any], Decimal | int | None] = _number if kind == "number" else _integer

        def check_number(value: Any) -> bool:
            if _missing(value):
                return not required
            kind_of = type(value)
            if kind_of is int or (kind_of is float and kind == "number"):
                # Fast path: strictly inside the bounds as a float/int is inside them as frictionless's
                # Decimal too; on a bound, or not finite, the exact Decimal comparison below decides.
                if (low is None or value > low) and (high is None or value < high) and value == value \
                        and value not in (math.inf, -math.inf):
                    return True
            number = parse(value)
            return number is not None and (low is None or number >= low) and (high is None or number <= high)

        return check_number
    if kind in ("datetime", "date"):
        if low is not None or high is not None:
            raise Unsupported(field.get("name"))
        parse_time = _datetime if kind == "datetime" else _date
        return lambda value: (not required) if _missing(value) else parse_time(value)
    raise Unsupported(field.get("name"))


def _column_passes(check: Check, columns: Columns, name: str) -> bool:
    """Every cell passes; each distinct value is checked once when the column holds one type of value
    (a set merges equal values of different types -- ``1``, ``1.0``, ``True`` -- which checks tell apart).
    The set is the run's shared one (:meth:`.columns.Columns.distinct`)."""
    kinds = columns.types(name) - {type(None)}
    values: Any = columns[name]
    if len(kinds) <= 1:
        try:
            values = columns.distinct(name)
        except TypeError:  # unhashable cells: check them all
            pass
    return all(map(check, values))


def certainly_valid(fields: list[dict[str, Any]], rows: list[dict[str, Any]],
                    columns: Columns | None = None) -> bool:
    """True when every row passes every declared field's check (and no row is blank).

    Checked column by column (``columns``: the run's shared view of ``rows``, made here when not given),
    then the
    field's check over the column's distinct values."""
    try:
        checks = [(field["name"], compile_field(field)) for field in fields]
        required = any((field.get("constraints") or {}).get("required") for field in fields)
    except (Unsupported, re.error, KeyError, TypeError, AttributeError):
        return False
    view = columns if columns is not None else Columns(rows)
    for name, check in checks:
        if not _column_passes(check, view, name):
            return False
    # A required field that passed has no missing cell, so no row is blank; otherwise look row by row.
    if not required and any(all(map(_missing, cells)) for cells in zip(*(view[name] for name, _ in checks),
                                                                         strict=True)):
        return False  # frictionless reports a blank row
    return required or bool(checks) or not rows
