"""Write the published resources (CSV + JSON) and the content hash that decides "changed or not".

Both files are built column by column (:mod:`.columns`), in one pass over each column for the two
(:class:`CellTexts`): each cell's text is made once per distinct value or by a C-level ``map``
(integers), and each file is then assembled by one ``str.join`` over a flat list filled column by
column (:func:`_interleave`). The bytes are exactly what ``csv.writer`` (booleans spelt
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
import re
from collections.abc import Mapping, Set
from dataclasses import dataclass
from functools import cached_property
from itertools import filterfalse
from typing import Any

from .columns import Columns, distinct_values

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
_TEXTS = frozenset({str, type(None)})
_CSV_QUOTE = re.compile("[" + "".join(map(re.escape, sorted(_CSV_SPECIALS))) + "]")


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
    if _CSV_QUOTE.search(text) is not None:
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_cell(value: Any) -> str:
    """One cell as csv.writer writes it (``str``; ``repr`` for floats), booleans as true/false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _csv_text(value if type(value) is str else repr(value) if isinstance(value, float) else str(value))


def _json_cell(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return str(_json_str(value))
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return _JSON.encode(value)  # None, booleans, NaN/Infinity, containers, default=str for the rest


def _octets(text: str) -> str:
    """``text``'s UTF-8 bytes as a string of one character per byte (U+0000-U+00FF): the files are
    joined from such pieces and the joined text is ``.encode("latin-1")``-d, which gives exactly the
    UTF-8 bytes of the original text.

    Why: ``str.join`` over pieces of one byte per character is a plain copy, and so is that final
    encode. One non-ASCII cell (a Vietnamese station name) would otherwise widen the whole joined file
    to two bytes per character and make ``.encode("utf-8")`` convert every character -- together
    about 45 ms of a 100k-row JSON file. ASCII text (most cells) is its own UTF-8 and passes as is.
    Text that has no UTF-8 form (a lone surrogate) raises UnicodeEncodeError, as that encode did."""
    return text if text.isascii() else text.encode("utf-8").decode("latin-1")


def _csv_octets(value: Any) -> str:
    return _octets(_csv_cell(value))


def _json_octets(value: Any) -> str:
    return _octets(_json_cell(value))


def _text_tables(distinct: Set[Any]) -> tuple[dict[Any, str], dict[Any, str]]:
    """The CSV and JSON tables of a text column's distinct values (``str`` and None only), the same as
    :func:`_csv_octets`/:func:`_json_octets` give, made by C-level ``map``/``filter`` passes rather
    than two Python calls per value -- a column of timestamps or names has tens of thousands.

    Most text is its own CSV cell; only what holds a quoting character is rewritten, and only
    non-ASCII text needs :func:`_octets`."""
    texts = distinct - {None}
    csv_table: dict[Any, str] = dict(zip(texts, texts, strict=True))
    for text in filter(_CSV_QUOTE.search, texts):
        csv_table[text] = _csv_text(text)
    json_table: dict[Any, str] = dict(zip(texts, map(_json_str, texts), strict=True))
    for text in filterfalse(str.isascii, texts):
        csv_table[text], json_table[text] = _octets(csv_table[text]), _octets(json_table[text])
    if None in distinct:
        csv_table[None], json_table[None] = "", "null"
    return csv_table, json_table


def _both_texts(column: list[Any], kinds: frozenset[type],
                distinct: Set[Any] | None) -> tuple[list[str], list[str]]:
    """The column's cells as CSV and as JSON text (as :func:`_octets`). Both files are made from one
    pass over the column: one set of distinct values, one table lookup per cell per file -- and where
    the two spellings agree on every value (integers, finite floats: ``repr`` in both), a single list
    serves both files. ``distinct``: the column's :func:`.columns.distinct_values`."""
    if kinds == {int}:
        texts = list(map(int.__repr__, column))  # digits and a sign: never quoted, the same in JSON
        return texts, texts
    if distinct is None:
        return list(map(_csv_octets, column)), list(map(_json_octets, column))
    if kinds <= _TEXTS:
        csv_table, json_table = _text_tables(distinct)
    else:
        csv_table = {value: _csv_octets(value) for value in distinct}
        json_table = {value: _json_octets(value) for value in distinct}
    csv_texts = list(map(csv_table.__getitem__, column))
    if csv_table == json_table:
        return csv_texts, csv_texts
    return csv_texts, list(map(json_table.__getitem__, column))


class CellTexts:
    """The published columns' cell texts for both files, each column turned into text once.

    The pipeline writes the CSV and then the JSON of the same columns; made here together, the work the
    two files share (distinct values, numbers' spelling) is done once. ``overrides`` replaces some
    columns of ``columns`` (the de-identified ones)."""

    def __init__(self, columns: Columns, overrides: Mapping[str, list[Any]] | None = None) -> None:
        self.columns = columns
        self.overrides = overrides or {}
        self._made: dict[str, tuple[list[str], list[str]]] = {}

    def _texts(self, name: str) -> tuple[list[str], list[str]]:
        made = self._made.get(name)
        if made is None:
            made = self._made[name] = _both_texts(*_column(self.columns, name, self.overrides))
        return made

    def csv_bytes(self, fields: list[str]) -> bytes:
        """The CSV resource of ``fields``: exactly what ``csv.writer`` writes (booleans true/false)."""
        texts = [self._texts(name)[0] for name in fields]
        header = _octets(",".join(map(_csv_text, fields)))
        rows = len(self.columns)
        if len(texts) == 1:  # one field: csv.writer quotes a lone empty cell ("") so the line is not blank
            return "\n".join([header or '""', *[text or '""' for text in texts[0]], ""]).encode("latin-1")
        if not texts:
            return b"\n" * (rows + 1)
        pattern: list[str | None] = [None, ","] * len(texts)
        pattern[-1] = "\n"
        return _interleave(pattern, texts, rows, head=header + "\n").encode("latin-1")  # see _octets

    def json_bytes(self, fields: list[str]) -> bytes:
        """The JSON resource: an array of objects holding ``fields`` in that order, exactly as
        ``json.dumps(..., ensure_ascii=False, separators=(",", ":"), default=str)`` spells it."""
        texts = [self._texts(name)[1] for name in fields]
        rows = len(self.columns)
        if not rows:
            return b"[]"
        if not texts:
            return ("[" + ",".join(["{}"] * rows) + "]").encode("utf-8")
        keys = [_octets(str(_json_str(name))) + ":" for name in fields]
        # Each value is preceded by its key -- the first by "{", the others by "," -- and each row closes
        # with "},", except the last: its "}" closes the array too.
        pattern: list[str | None] = []
        for number, key in enumerate(keys):
            pattern += [("," if number else "{") + key, None]
        pattern.append("},")
        return _interleave(pattern, texts, rows, head="[", last="}]").encode("latin-1")  # see _octets


def _interleave(pattern: list[str | None], columns: list[list[str]], rows: int, *, head: str = "",
                last: str | None = None) -> str:
    """``head``, then ``pattern`` repeated ``rows`` times with its ``None`` slots filled from ``columns``
    in turn (and its final part replaced by ``last``, when given), joined: the flat list is made by one
    list multiplication and filled by extended-slice assignment (C speed, no per-row tuple or string),
    so assembling 100k rows costs milliseconds. ``head`` and ``last`` go into the list's first and last
    parts, not around the joined text, which would copy the whole file once more for each."""
    if not rows:
        return head
    width = len(pattern)
    flat = pattern * rows
    slots = [index for index, part in enumerate(pattern) if part is None]
    for slot, column in zip(slots, columns, strict=True):
        flat[slot::width] = column
    flat[0] = head + flat[0]  # type: ignore[operator]  # filled above when it was a slot
    if last is not None:
        flat[-1] = last
    return "".join(flat)  # type: ignore[arg-type]  # every None slot was filled


def csv_bytes(fields: list[str], columns: Columns, overrides: Mapping[str, list[Any]] | None = None) -> bytes:
    """The CSV resource of ``fields``; ``overrides`` replaces some columns (de-identified ones)."""
    return CellTexts(columns, overrides).csv_bytes(fields)


def json_bytes(fields: list[str], columns: Columns, overrides: Mapping[str, list[Any]] | None = None) -> bytes:
    """The JSON resource: an array of objects holding ``fields`` in that order."""
    return CellTexts(columns, overrides).json_bytes(fields)


def _column(columns: Columns, name: str,
            overrides: Mapping[str, list[Any]]) -> tuple[list[Any], frozenset[type], Set[Any] | None]:
    """The column to write, its cells' types and its distinct values (when they may decide)."""
    if name in overrides:
        column = overrides[name]
        kinds = frozenset(map(type, column))
        return column, kinds, distinct_values(column, kinds)
    return columns[name], columns.types(name), columns.exact_distinct(name)


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
    texts = CellTexts(Columns(rows))
    return [csv_artifact(slug, texts.csv_bytes(fields)), json_artifact(slug, texts.json_bytes(fields))]


def content_hash(artifacts: list[Artifact]) -> str:
    digest = hashlib.sha256()
    for artifact in artifacts:
        digest.update(artifact.name.encode() + b"\0" + artifact.sha256.encode() + b"\n")
    return digest.hexdigest()
