"""The fetched body's JSON parsing (:func:`lgsp.opendata.fetch.loads`) against ``json.loads``.

The pipeline parses with pydantic-core's parser and falls back to ``json.loads`` whenever that parser
refuses a body; so these tests look for the one way the two could still differ: a body the fast parser
accepts and turns into other values than ``json.loads`` would (compared by ``repr``: types, key order,
``-0.0``, NaN), or accepts where ``json.loads`` refuses it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgsp.jsontext import JsonTextError, refuse_lone_surrogates
from lgsp.opendata import CkanTarget, DatasetSpec, PipelineConfig
from lgsp.opendata.errors import SchemaViolation, SourceUnavailable
from lgsp.opendata.fetch import Fetched, UnpublishableText, fetch, loads, parse_rows
from lgsp.opendata.pipeline import fingerprint_digest, source_fingerprint
from lgsp.opendata.sample_source import SourceState, create_app, export
from lgsp.testing.servers import start_server


def _outcome(parse: Any, body: bytes) -> tuple[str, str]:
    try:
        return "value", repr(parse(body))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return "error", f"{type(exc).__name__}: {exc}"


def _agrees(body: bytes) -> None:
    """loads answers as json.loads does, except that a value holding a lone surrogate is refused."""
    expected = _outcome(json.loads, body)
    if expected[0] == "value" and _holds_lone_surrogate(json.loads(body)):
        with pytest.raises(UnpublishableText, match="lone UTF-16 surrogate"):
            loads(body)
        return
    assert _outcome(loads, body) == expected, body[:200]


def _holds_lone_surrogate(value: Any) -> bool:
    try:
        refuse_lone_surrogates(value)
    except JsonTextError:
        return True
    return False


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_dumped_values_parse_as_json_loads_parses_them(value: Any, ascii_only: bool) -> None:
    _agrees(json.dumps(value, ensure_ascii=ascii_only).encode("utf-8"))


@settings(max_examples=500, deadline=None)
@given(st.from_regex(r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][-+]?[0-9]{1,4})?", fullmatch=True))
def test_number_literals_give_the_same_int_or_float(literal: str) -> None:
    _agrees(f"[{literal}]".encode())


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet='[]{}",:0123456789.eE+-truefalsnNIiy \t\n\r\\/u\x01\x7f\u00e9\ud800', max_size=40))
def test_near_json_text_is_accepted_or_refused_alike(text: str) -> None:
    _agrees(text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("body", [
    b'{"a": 1, "b": 2, "a": 3}',  # duplicate key: last value, first position
    b"[NaN, Infinity, -Infinity, -0, -0.0, 1E400, 1e-400]",
    b"[123456789012345678901234567890, 9007199254740993, 5e-324, 1.7976931348623157e308]",
    b'["\\uD834\\uDD1E", "\\u0000", "\\\\ud800"]',  # a pair escaped; an escaped backslash before "ud800"
    b'["a\tb"]', b"[1]x", b"[01]", b"[1.]", b"[.5]", b"[1,]", b'{"a":1,}', b'["\xff"]',
    "\ufeff[1]".encode(), "[1]".encode("utf-16"), "[1]".encode("utf-32"),
    b"[" * 300 + b"]" * 300,  # deeper than the fast parser's limit
    b"[1" + b"0" * 5000 + b"]",  # beyond Python's int-string limit: json.loads's ValueError
])
def test_bodies_the_fast_parser_may_refuse(body: bytes) -> None:
    _agrees(body)


@pytest.mark.parametrize("body", [
    b'["\\ud800"]', b'{"k\\uDFFF": 1}', b'[{"a": ["x", {"b": "\\udabcz"}]}]',
    b'["\xed\xa0\x80"]',  # the raw UTF-8-style bytes of U+D800: json.loads decodes them (surrogatepass)
    '["\ud800"]'.encode("utf-16-le", "surrogatepass"),  # a lone code unit in UTF-16 text
])
def test_a_lone_surrogate_is_refused_where_json_loads_would_pass_it_on(body: bytes) -> None:
    """json.loads accepts a lone surrogate escape, but no UTF-8 file can hold the string it makes: the
    writers would fail half-way through a run. It is refused at parse time instead (keys included)."""
    json.loads(body)  # valid JSON text
    with pytest.raises(UnpublishableText, match="lone UTF-16 surrogate"):
        loads(body)


@pytest.mark.parametrize("body", [
    b'{"data": [{"a": 1' + b"0" * 5000 + b'}]}',  # past Python's int-string conversion limit
    b'{"data": [{"a": "\\ud800"}]}',  # lone surrogate
    b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # deeper than json.loads can go
])
def test_every_unreadable_json_body_is_a_source_failure_not_a_crash(spec: DatasetSpec, body: bytes) -> None:
    fetched = Fetched("http://source", body, "application/json", None, None)
    with pytest.raises(SourceUnavailable, match="unreadable body"):
        parse_rows(spec, fetched)


def test_the_sample_source_parses_to_the_same_rows() -> None:
    made = export(SourceState(rows=500, mode="leak"), "readings")
    assert made is not None
    assert repr(loads(made[0])) == repr(json.loads(made[0]))


def test_a_body_json_loads_refuses_is_still_an_unreadable_source(spec: DatasetSpec) -> None:
    fetched = Fetched("http://source", b'{"data": [{"a": 1},]}', "application/json", None, None)
    with pytest.raises(SourceUnavailable, match="unreadable body"):
        parse_rows(spec, fetched)


async def test_the_digest_fed_during_the_fetch_is_the_fingerprint_of_the_body(spec: DatasetSpec) -> None:
    """The pipeline hashes the source as it arrives; that must be the fingerprint of the whole body
    (many pieces: 20k rows are a few MB), and the body itself must arrive whole."""
    state = SourceState(rows=20_000, token="t")
    server = start_server(create_app(state))
    config = PipelineConfig(server.url, CkanTarget("http://ckan", "t"))
    try:
        digest = fingerprint_digest(spec, config)
        fetched = await fetch(spec, server.url, "t", digest=digest)
        plain = await fetch(spec, server.url, "t")
    finally:
        server.stop()
    assert fetched.body == plain.body == export(state, "readings")[0]  # type: ignore[index]
    assert len(fetched.body) > 4_000_000
    assert digest.hexdigest() == source_fingerprint(spec, config, plain.body)


@pytest.mark.parametrize(("body", "kind", "row"), [
    (b"a,b\n1,2\nCan Tho, Viet Nam,3\n", "extra-cell", 2),  # an unquoted comma shifted the row
    (b"a,b\n1,2\n3\n", "missing-cell", 2),
    (b"a,a,b\n1,2,3\n", "duplicate-label", None),
])
def test_a_csv_row_that_does_not_fit_its_header_is_a_schema_violation(spec: DatasetSpec, body: bytes, kind: str,
                                                                      row: int | None) -> None:
    """csv.DictReader dropped the extra cell (under the key None) or filled the missing one with None, and
    kept one of two columns of the same name: the run published the damaged rows as OK."""
    csv_spec = dataclasses.replace(spec, source_format="csv")
    with pytest.raises(SchemaViolation) as info:
        parse_rows(csv_spec, Fetched("http://source", body, "text/csv", None, None))
    [error] = info.value.report["errors"]
    assert error["type"] == kind and error["row"] == row


def test_a_csv_source_keeps_a_bom_blank_lines_and_formula_like_cells_as_data(spec: DatasetSpec) -> None:
    csv_spec = dataclasses.replace(spec, source_format="csv")
    body = "\ufeffa,b\n\n=cmd|' /C calc'!A0,\"Cần Thơ, VN\"\n".encode()
    rows = parse_rows(csv_spec, Fetched("http://source", body, "text/csv", None, None))
    assert rows == [{"a": "=cmd|' /C calc'!A0", "b": "Cần Thơ, VN"}]
