"""Validate source rows against the dataset's Table Schema with frictionless.

Only declared fields are validated (undeclared ones are never published; the personal-data scan has
already looked at them). Failures become a report listing data row, field and message.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from frictionless import Resource, Schema

from registry.dataset_spec import DatasetSpec

from .columns import Columns
from .errors import SchemaViolation
from .fastcheck import certainly_valid

Row = dict[str, Any]
LGSP_FIELD_KEYS = ("personal", "personalCheck")
MAX_ERRORS = 200


def frictionless_schema(spec: DatasetSpec) -> Schema:
    fields = [{k: v for k, v in f.items() if k not in LGSP_FIELD_KEYS} for f in spec.table_schema["fields"]]
    # primaryKey is checked by duplicate_keys(): frictionless's own check costs more than all the
    # type and constraint checks together (it re-reads every key cell through its row proxy).
    descriptor = {k: v for k, v in spec.table_schema.items() if k not in ("fields", "primaryKey")}
    descriptor["fields"] = fields
    return Schema.from_descriptor(descriptor)


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def _as_csv(names: list[str], rows: list[Row]) -> bytes:
    """Rows as CSV bytes: frictionless validates a byte stream about a third faster than inline rows
    (it deep-copies inline data into its report), and a JSON source then gets the same cell parsing
    as a CSV one."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([_cell(row.get(name)) for name in names] for row in rows)
    return buffer.getvalue().encode("utf-8")


def duplicate_keys(spec: DatasetSpec, rows: list[Row], columns: Columns | None = None) -> list[dict[str, Any]]:
    """Rows whose primary key repeats an earlier row's (Table Schema ``primaryKey`` uniqueness)."""
    key = spec.table_schema.get("primaryKey")
    if not key:
        return []
    names = [key] if isinstance(key, str) else list(key)
    # All keys at C speed first (str of each key cell, zipped); rows are walked only to report repeats.
    view = columns if columns is not None else Columns(rows)
    keys = list(zip(*(_key_texts(view, n) for n in names), strict=True))
    if len(set(keys)) == len(keys):
        return []
    seen: dict[tuple[str, ...], int] = {}
    errors = []
    for number, row in enumerate(rows, start=1):
        value = tuple(str(row.get(n)) for n in names)
        if value in seen:
            errors.append({"row": number, "field": ",".join(names), "type": "primary-key",
                           "message": f"row {number} repeats the primary key of row {seen[value]}"})
        else:
            seen[value] = number
    return errors


def _key_texts(columns: Columns, name: str) -> list[str]:
    """``str`` of each key cell; a string column is its own text (no copy)."""
    column = columns[name]
    return column if columns.types(name) == {str} else list(map(str, column))


def validate_rows(spec: DatasetSpec, rows: list[Row], columns: Columns | None = None) -> None:
    """Raise :class:`SchemaViolation` with a row/field report when any row breaks the schema.
    ``columns``: the run's shared column view of ``rows`` (made here when not given)."""
    columns = columns if columns is not None else Columns(rows)
    names = spec.field_names
    if not rows:
        raise SchemaViolation(f"dataset {spec.slug}: the source returned no rows", {"errors": []})
    missing = [name for name in names if name not in rows[0]]
    duplicates = duplicate_keys(spec, rows, columns)
    if not missing and not duplicates and certainly_valid(spec.table_schema["fields"], rows, columns):
        return  # the compiled check is sure; frictionless only runs when it is not (and writes the report)
    resource = Resource(data=_as_csv(names, rows), format="csv", encoding="utf-8",
                        schema=frictionless_schema(spec))
    report = resource.validate(limit_errors=MAX_ERRORS)
    if report.valid and not missing and not duplicates:
        return
    errors = [{"row": None, "field": name, "type": "missing-field", "message": f"field {name} absent"}
              for name in missing]
    errors += duplicates[:MAX_ERRORS]
    for task in report.tasks:
        for error in task.errors:
            row_number = getattr(error, "row_number", None)
            errors.append({
                "row": row_number - 1 if row_number else None,  # 1-based data row (header excluded)
                "field": getattr(error, "field_name", None),
                "type": error.type,
                "message": error.message,
            })
    raise SchemaViolation(
        f"dataset {spec.slug}: {len(errors)} schema error(s), first: {errors[0]['message']}",
        {"errors": errors, "truncated": len(errors) >= MAX_ERRORS},
    )
