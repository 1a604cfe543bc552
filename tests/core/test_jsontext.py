"""lgsp.jsontext.loads: a value every UTF-8 writer can carry, or JsonTextError; never another exception."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgsp.jsontext import JsonTextError, loads

REFUSED = [
    b"[" * 100_000 + b"]" * 100_000,  # RecursionError in json.loads
    b"[1" + b"0" * 5000 + b"]",  # the integer digit limit: a plain ValueError
    b'["\xff"]',  # not UTF-8: UnicodeDecodeError
    b'["\\ud800"]', b'{"\\uDFFF": 1}',  # lone surrogate escapes, in a value and in a key
    b'["\xed\xa0\x80"]',  # U+D800 as raw bytes, which json.loads decodes with surrogatepass
    '["\ud800"]'.encode("utf-16-le", "surrogatepass"),  # a lone code unit in UTF-16 text
    '["\udc00"]'.encode("utf-32", "surrogatepass"),
    b"{broken", b"", b"[1]x",
]


@pytest.mark.parametrize("text", REFUSED)
def test_refused_as_json_text_errors(text: bytes) -> None:
    with pytest.raises(JsonTextError) as info:
        loads(text)
    assert isinstance(info.value, json.JSONDecodeError) and str(info.value)


@pytest.mark.parametrize(("text", "value"), [
    (b'["\\ud834\\udd1e"]', ["\U0001d11e"]),  # a pair of escapes is one character
    ('["\U0001d11e"]'.encode(), ["\U0001d11e"]),
    ('["\u00e9"]'.encode("utf-16"), ["\u00e9"]),
    (b'["\\\\ud800"]', ["\\ud800"]),  # an escaped backslash, then plain letters
    (b'{"a": 1.10}', {"a": 1.10}),
    ('["\u00e9"]', ["\u00e9"]),  # str input
])
def test_accepted_as_json_loads_reads_it(text: bytes | str, value: object) -> None:
    assert loads(text) == value == json.loads(text)


def test_options_pass_through() -> None:
    assert loads(b'{"m": 12.10}', parse_float=Decimal) == {"m": Decimal("12.10")}


def test_a_str_holding_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(JsonTextError, match="surrogate"):
        loads('["\ud800"]')


def test_a_caller_that_checks_strings_itself_may_take_lone_surrogates() -> None:
    """For the DVCQG intake, which names the field holding one (adapters.dvcqg.text)."""
    assert loads(b'{"a": "\\ud800"}', lone_surrogates=True) == {"a": "\ud800"}
    with pytest.raises(JsonTextError, match="Expecting"):
        loads(b'{"a": ', lone_surrogates=True)
    with pytest.raises(JsonTextError, match="codec can't decode"):  # raw bytes: not UTF-8 at all
        loads(b'{"a": "\xed\xa0\x80"}', lone_surrogates=True)
    with pytest.raises(JsonTextError, match="codec can't decode"):
        loads('["\ud800"]'.encode("utf-16-le", "surrogatepass"), lone_surrogates=True)
    assert loads('["\u00e9"]'.encode("utf-16"), lone_surrogates=True) == ["\u00e9"]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.one_of(st.binary(max_size=64),
                 st.text(alphabet='[]{}",:0123456789.eE+-truefalsnNIiy \\ud8dcDCu\xed\xa0\x80\ufeff', max_size=40)
                 .map(lambda t: t.encode("utf-8", "surrogatepass")),
                 st.text(max_size=20).map(lambda t: json.dumps([t]).encode("utf-16"))))
def test_any_bytes_give_a_writable_value_or_a_json_text_error(text: bytes) -> None:
    try:
        value = loads(text)
    except JsonTextError:
        return
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # every string in it has a UTF-8 form
