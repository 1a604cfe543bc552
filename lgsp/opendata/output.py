"""Write the published resources (CSV + JSON) and the content hash that decides "changed or not".

Both files are built column by column (:mod:`.columns`): each cell's text is made once per distinct
value (strings) or by a C-level ``map`` (numbers), and the lines are then assembled by ``str.join`` and
``%``-formatting over ``zip`` of the columns. The bytes are exactly what ``csv.writer`` (booleans spelt
``true``/``false``) and ``json.dumps(..., ensure_ascii=False, separators=(",", ":"), default=str)``
produce for the same rows -- the content hash of unchanged data must not move -- which
tests/opendata/test_output.py checks against those modules.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .columns import Columns, map_column

Row = dict[str, Any]
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_json_str: Any = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring


def _csv_specials() -> frozenset[str]:
    """The characters that make ``csv.writer`` (excel dialect, ``\\n`` line ends) quote a field, asked of
    the csv module itself so a Python whose rules differ is followed, not contradicted."""
    found = set()
    for char in ",\"\n\r\0\t ;'\x1e\u2028":
        buffer = io.StringIO(newline="")
        csv.writer(buffer, lineterminator="\n").writerow([f"a{char}b", "x"])
        if buffer.getvalue().startswith('"'):
            found.add(char)
    return frozenset(found)


_CSV_SPECIALS = _csv_specials()


@dataclass(frozen=True)
class Artifact:
    """One resource file: name as shown in CKAN, format, bytes and their SHA-256."""

    name: str
    format: str
    mimetype: str
    data: bytes

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _csv_text(text: str) -> str:
    if any(char in text for char in _CSV_SPECIALS):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_cell(value: Any) -> str:
    """One cell as csv.writer writes it (``str``; ``repr`` for floats), booleans as true/false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _csv_text(value if type(value) is str else repr(value) if isinstance(value, float) else str(value))


def _csv_column(column: list[Any], kinds: frozenset[type]) -> list[str]:
    if kinds == {int}:
        return list(map(int.__repr__, column))  # digits and a sign: never quoted
    return map_column(column, kinds, _csv_cell)


def _json_cell(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return str(_json_str(value))
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return _JSON.encode(value)  # None, booleans, NaN/Infinity, containers, default=str for the rest


def _json_column(column: list[Any], kinds: frozenset[type]) -> list[str]:
    if kinds == {int}:
        return list(map(int.__repr__, column))
    return map_column(column, kinds, _json_cell)


def csv_bytes(fields: list[str], columns: Columns, overrides: Mapping[str, list[Any]] | None = None) -> bytes:
    """The CSV resource of ``fields``; ``overrides`` replaces some columns (de-identified ones)."""
    texts = [_csv_column(*_column(columns, name, overrides)) for name in fields]
    header = ",".join(map(_csv_text, fields))
    rows = len(columns)
    if len(texts) == 1:  # one field: csv.writer quotes a lone empty cell ("") so the line is not blank
        return "\n".join([header or '""', *[text or '""' for text in texts[0]], ""]).encode("utf-8")
    if not texts:
        return b"\n" * (rows + 1)
    pattern: list[str | None] = [None, ","] * len(texts)
    pattern[-1] = "\n"
    return (header + "\n" + _interleave(pattern, texts, rows)).encode("utf-8")


def _interleave(pattern: list[str | None], columns: list[list[str]], rows: int) -> str:
    """``pattern`` repeated ``rows`` times, its ``None`` slots filled from ``columns`` in turn, joined:
    the flat list is made by one list multiplication and filled by extended-slice assignment (C speed,
    no per-row tuple or string), so assembling 100k rows costs milliseconds."""
    width = len(pattern)
    flat = pattern * rows
    slots = [index for index, part in enumerate(pattern) if part is None]
    for slot, column in zip(slots, columns, strict=True):
        flat[slot::width] = column
    return "".join(flat)  # type: ignore[arg-type]  # every None slot was filled


def json_bytes(fields: list[str], columns: Columns, overrides: Mapping[str, list[Any]] | None = None) -> bytes:
    """The JSON resource: an array of objects holding ``fields`` in that order."""
    texts = [_json_column(*_column(columns, name, overrides)) for name in fields]
    rows = len(columns)
    if not rows:
        return b"[]"
    if not texts:
        return ("[" + ",".join(["{}"] * rows) + "]").encode("utf-8")
    keys = [str(_json_str(name)) + ":" for name in fields]
    # Each value is preceded by its key -- the first by "{", the others by "," -- and each row closes
    # with "}," except the last, whose "}" is followed by the array's "]".
    pattern: list[str | None] = []
    for number, key in enumerate(keys):
        pattern += [("," if number else "{") + key, None]
    pattern.append("},")
    text = _interleave(pattern, texts, rows)
    return ("[" + text[:-1] + "]").encode("utf-8")


def _column(columns: Columns, name: str,
            overrides: Mapping[str, list[Any]] | None) -> tuple[list[Any], frozenset[type]]:
    if overrides is not None and name in overrides:
        column = overrides[name]
        return column, frozenset(map(type, column))
    return columns[name], columns.types(name)


def write_csv(fields: list[str], rows: list[Row]) -> bytes:
    return csv_bytes(fields, Columns(rows))


def write_json(fields: list[str], rows: list[Row]) -> bytes:
    return json_bytes(fields, Columns(rows))


def csv_artifact(slug: str, data: bytes) -> Artifact:
    return Artifact(f"{slug}.csv", "CSV", "text/csv", data)


def json_artifact(slug: str, data: bytes) -> Artifact:
    return Artifact(f"{slug}.json", "JSON", "application/json", data)


def build_artifacts(slug: str, fields: list[str], rows: list[Row]) -> list[Artifact]:
    """CSV first: its hash is the dataset's content hash (same rows => same bytes => no new version)."""
    columns = Columns(rows)
    return [csv_artifact(slug, csv_bytes(fields, columns)), json_artifact(slug, json_bytes(fields, columns))]


def content_hash(artifacts: list[Artifact]) -> str:
    digest = hashlib.sha256()
    for artifact in artifacts:
        digest.update(artifact.name.encode() + b"\0" + artifact.sha256.encode() + b"\n")
    return digest.hexdigest()
