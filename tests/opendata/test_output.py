"""The column-wise writers produce exactly the bytes of csv.writer and json.dumps for the same rows.

The content hash of a dataset is the hash of these bytes: if the writers drifted from the modules they
replace, every dataset published before would look changed and be uploaded again. References below are
the plain-module spellings the pipeline used before (booleans as true/false in CSV).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgsp.opendata import DatasetSpec, load_specs
from lgsp.opendata.columns import Columns
from lgsp.opendata.output import CellTexts, csv_bytes, json_bytes, write_csv, write_json
from lgsp.opendata.personal import deidentify, deidentify_columns, hash_value, mask_value

DEMO = load_specs(Path(__file__).resolve().parents[2] / "lgsp" / "opendata" / "datasets")["can-tho-air-quality"]


def reference_csv(fields: list[str], rows: list[dict[str, object]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([("true" if v else "false") if isinstance(v, bool) else v
                         for v in (row.get(f) for f in fields)])
    return buffer.getvalue().encode("utf-8")


def reference_json(fields: list[str], rows: list[dict[str, object]]) -> bytes:
    records = [{f: row.get(f) for f in fields} for row in rows]
    return json.dumps(records, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


class Odd:
    def __str__(self) -> str:
        return 'odd, "quoted"\nvalue'


texts = st.text(alphabet=st.sampled_from(list('a ,"\n\r\t\0%é\u2028;x1ạ\U0001f600')), max_size=6)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20), texts,
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1, 1.0, True]))
cells = st.one_of(scalars, st.lists(scalars, max_size=2), st.dictionaries(texts, scalars, max_size=2),
                  st.just(Odd()))
names = st.lists(st.sampled_from(["a", "b", 'c,"d"', "%s", "é", "trạm", ""]), min_size=0, max_size=4, unique=True)


@settings(derandomize=True, max_examples=400, deadline=None)
@given(st.data())
def test_writers_match_csv_and_json_modules(data: st.DataObject) -> None:
    fields = data.draw(names)
    # Columns of one type (the fast paths) as often as mixed ones.
    uniform = data.draw(st.sampled_from([None, texts, st.integers(-5, 5), st.floats(allow_nan=True)]))
    value = cells if uniform is None else st.one_of(st.none(), uniform)
    keys = [*fields, "extra"]
    rows = data.draw(st.lists(st.dictionaries(st.sampled_from(keys), value, max_size=len(keys)), max_size=6))
    try:
        expected_csv = reference_csv(fields, rows)
    except UnicodeEncodeError:
        expected_csv = None
    if expected_csv is not None:
        assert write_csv(fields, rows) == expected_csv
    assert write_json(fields, rows) == reference_json(fields, rows)
    # The pipeline's way: both files from one CellTexts, whose columns the two share where they agree.
    shared = CellTexts(Columns(rows))
    if expected_csv is not None:
        assert shared.csv_bytes(fields) == expected_csv
    assert shared.json_bytes(fields) == reference_json(fields, rows)


def test_numbers_share_one_text_list_only_where_both_files_spell_them_alike() -> None:
    rows: list[dict[str, Any]] = [{"n": 1.5, "i": 3, "x": float("nan"), "z": -0.0},
                                  {"n": 2.0, "i": -4, "x": 1.0, "z": 0.0}]
    texts = CellTexts(Columns(rows))
    assert texts.csv_bytes(["n", "i", "x", "z"]) == b"n,i,x,z\n1.5,3,nan,-0.0\n2.0,-4,1.0,0.0\n"
    assert texts.json_bytes(["n", "i", "x", "z"]) == (
        b'[{"n":1.5,"i":3,"x":NaN,"z":-0.0},{"n":2.0,"i":-4,"x":1.0,"z":0.0}]')
    shared = {name: texts._texts(name)[0] is texts._texts(name)[1] for name in ("n", "i", "x", "z")}
    assert shared == {"n": True, "i": True, "x": False, "z": False}  # NaN is spelt apart; -0.0: no set


def test_overrides_replace_columns_and_edge_shapes() -> None:
    rows: list[dict[str, Any]] = [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    columns = Columns(rows)
    assert csv_bytes(["a", "b"], columns, {"b": ["**", None]}) == b"a,b\n1,**\n2,\n"
    assert json_bytes(["a", "b"], columns, {"b": ["**", None]}) == b'[{"a":1,"b":"**"},{"a":2,"b":null}]'
    assert csv_bytes(["a"], Columns([{"a": ""}, {"a": None}])) == b'a\n""\n""\n'
    assert write_csv([], [{}, {}]) == b"\n\n\n" and write_json([], [{}, {}]) == b"[{},{}]"


def test_text_without_a_utf8_form_is_refused_as_before() -> None:
    """A lone surrogate (json.loads accepts "\\ud800") cannot be written as UTF-8, by either file."""
    for write in (write_csv, write_json):
        with pytest.raises(UnicodeEncodeError):
            write(["a", "b"], [{"a": "x\ud800", "b": 1}])


def reference_deidentify(spec: DatasetSpec, rows: list[dict[str, object]], key: bytes) -> list[dict[str, object]]:
    """The row-by-row de-identification the column version replaced."""
    out = []
    for row in rows:
        clean = {name: row.get(name) for name in spec.published_fields}
        for name, mode in spec.personal_fields.items():
            if name in clean and clean[name] not in (None, ""):
                clean[name] = mask_value(clean[name]) if mode == "mask" else (
                    hash_value(clean[name], key) if mode == "hash" else clean[name])
        out.append(clean)
    return out


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({"id": st.integers(0, 3), "phone": scalars, "citizen": scalars,
                                       "dropped": scalars}), max_size=6))
def test_deidentify_by_columns_matches_row_by_row(rows: list[dict[str, object]]) -> None:
    spec = dataclasses.replace(DEMO, table_schema={"fields": [
        {"name": "id", "type": "integer"}, {"name": "phone", "type": "string", "personal": "mask"},
        {"name": "citizen", "type": "string", "personal": "hash"},
        {"name": "dropped", "type": "string", "personal": "drop"}]})
    assert deidentify(spec, rows, b"k") == reference_deidentify(spec, rows, b"k")
    expected = reference_deidentify(spec, rows, b"k")
    columns = Columns(rows)
    masked = deidentify_columns(spec, columns, b"k")
    assert csv_bytes(spec.published_fields, columns, masked) == reference_csv(spec.published_fields, expected)


class RecordingClient:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []

    def call(self, action: str, data: dict[str, object]) -> None:
        self.sent.append((action, data))


def test_concurrent_uploads_keep_the_csv_first() -> None:
    from lgsp.opendata.pipeline import _csv_first

    package = {"id": "p", "resources": []}
    client = RecordingClient()
    _csv_first(client, package, [{"id": "c", "position": 1}, {"id": "j", "position": 0}])  # type: ignore[arg-type]
    assert client.sent == [("package_resource_reorder", {"id": "p", "order": ["c"]})]
    client.sent.clear()
    _csv_first(client, package, [{"id": "c", "position": 0}, {"id": "j", "position": 1}])  # type: ignore[arg-type]
    _csv_first(client, package, [None, {"id": "j", "position": 0}])  # type: ignore[arg-type]
    # Existing resources were updated in place: their positions are not this run's to change.
    _csv_first(client, {"id": "p", "resources": [{"id": "c"}, {"id": "j"}]},  # type: ignore[arg-type]
               [{"id": "c", "position": 1}, {"id": "j", "position": 0}])
    assert client.sent == []
