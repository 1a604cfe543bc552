"""Write the published resources (CSV + JSON) and the content hash that decides "changed or not"."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class Artifact:
    """One resource file: name as shown in CKAN, format, bytes and their SHA-256."""

    name: str
    format: str
    mimetype: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _records(fields: list[str], rows: list[Row]) -> list[tuple[Any, ...]]:
    """Each row's values in ``fields`` order (``dict.get`` per column, mapped in C, then zipped)."""
    columns = [map(dict.get, rows, repeat(f, len(rows))) for f in fields]
    return list(zip(*columns, strict=True)) if fields else [() for _ in rows]


def write_csv(fields: list[str], rows: list[Row]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    records = _records(fields, rows)
    # csv writes None as "" and numbers with str(); only booleans need our spelling.
    if bool in set(map(type, chain.from_iterable(records))):
        writer.writerows([_cell(v) if isinstance(v, bool) else v for v in record] for record in records)
    else:
        writer.writerows(records)
    return buffer.getvalue().encode("utf-8")


def write_json(fields: list[str], rows: list[Row]) -> bytes:
    order = tuple(fields)
    # Rows that already hold exactly ``fields`` in that order (what deidentify() returns) are dumped as
    # they are; others are rebuilt.
    if all(tuple(row) == order for row in rows):
        records: list[Row] = rows
    else:
        records = [{f: row.get(f) for f in fields} for row in rows]
    return json.dumps(records, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def build_artifacts(slug: str, fields: list[str], rows: list[Row]) -> list[Artifact]:
    """CSV first: its hash is the dataset's content hash (same rows => same bytes => no new version)."""
    return [
        Artifact(f"{slug}.csv", "CSV", "text/csv", write_csv(fields, rows)),
        Artifact(f"{slug}.json", "JSON", "application/json", write_json(fields, rows)),
    ]


def content_hash(artifacts: list[Artifact]) -> str:
    digest = hashlib.sha256()
    for artifact in artifacts:
        digest.update(artifact.name.encode() + b"\0" + artifact.sha256.encode() + b"\n")
    return digest.hexdigest()
