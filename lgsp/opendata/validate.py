"""Validate source rows against the dataset's Table Schema with frictionless.

Only declared fields are validated (undeclared ones are never published; the personal-data scan has
already looked at them). Failures become a report listing data row, field and message.
"""

from __future__ import annotations

from typing import Any

from frictionless import Resource, Schema

from .errors import SchemaViolation
from .spec import DatasetSpec

Row = dict[str, Any]
LGSP_FIELD_KEYS = ("personal", "personalCheck")
MAX_ERRORS = 200


def frictionless_schema(spec: DatasetSpec) -> Schema:
    fields = [{k: v for k, v in f.items() if k not in LGSP_FIELD_KEYS} for f in spec.table_schema["fields"]]
    descriptor = {k: v for k, v in spec.table_schema.items() if k != "fields"}
    descriptor["fields"] = fields
    return Schema.from_descriptor(descriptor)


def validate_rows(spec: DatasetSpec, rows: list[Row]) -> None:
    """Raise :class:`SchemaViolation` with a row/field report when any row breaks the schema."""
    names = spec.field_names
    if not rows:
        raise SchemaViolation(f"dataset {spec.slug}: the source returned no rows", {"errors": []})
    missing = [name for name in names if name not in rows[0]]
    data: list[list[Any]] = [names, *([row.get(name) for name in names] for row in rows)]
    report = Resource(data=data, schema=frictionless_schema(spec)).validate(limit_errors=MAX_ERRORS)
    if report.valid and not missing:
        return
    errors = [{"row": None, "field": name, "type": "missing-field", "message": f"field {name} absent"}
              for name in missing]
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
