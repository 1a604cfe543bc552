"""Audit entry v1 canonical bytes: a golden vector an outside verifier can reproduce, and refusals."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgsp.audit.canonical import (
    CanonicalError,
    canonical_entry,
    canonical_entry_bytes,
    entry_leaf_hash,
    jcs_bytes,
    pick_entry_fields,
)

EMPTY_SHA = hashlib.sha256(b"").hexdigest()
ICT = timezone(timedelta(hours=7))  # Indochina Time, as the gateway's clock may report it

ENTRY = {
    "index": 7,
    "time": datetime(2026, 11, 26, 15, 30, 0, 5, tzinfo=ICT),
    "message_id": "m-1",
    "correlation_id": None,
    "client": "000.00.12.H10/MOTCUA",
    "method": "POST",
    "path": "/x",
    "user_id": "Nguyễn Văn A",
    "status": 201,
    "latency_us": 1234,
    "request_sha256": EMPTY_SHA,
    "extra": {"b": [1, True, None], "a": "x\ny"},
}

GOLDEN = (
    '{"client":"000.00.12.H10/MOTCUA","correlation_id":null,"extra":{"a":"x\\ny","b":[1,true,null]},'
    '"index":7,"latency_us":1234,"message_id":"m-1","method":"POST","path":"/x","problem_type":null,'
    f'"request_sha256":"{EMPTY_SHA}","response_sha256":null,"service":null,'
    '"signature_report_sha256":null,"status":201,"time":"2026-11-26T08:30:00.000005Z",'
    '"user_id":"Nguyễn Văn A","v":1}'
).encode()


def test_golden_vector_bytes_and_leaf_hash() -> None:
    assert canonical_entry_bytes(ENTRY) == GOLDEN
    assert entry_leaf_hash(ENTRY) == hashlib.sha256(b"\x00" + GOLDEN).digest()


def test_canonical_form_is_a_fixed_point() -> None:
    """Re-encoding an exported entry (as a verifier does) gives the very same bytes."""
    exported = canonical_entry(ENTRY)
    assert canonical_entry_bytes(exported) == GOLDEN


def test_keys_sort_by_utf16_code_units_as_rfc8785_requires() -> None:
    # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+E000 although its code point is larger
    assert jcs_bytes({"\ue000": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ue000":1}'.encode()
    assert jcs_bytes({"b": 1, "a": {"d": 1, "c": 2}}) == b'{"a":{"c":2,"d":1},"b":1}'


def test_control_characters_are_escaped_like_jcs() -> None:
    assert jcs_bytes('\x01\t"\\/') == b'"\\u0001\\t\\"\\\\/"'


def test_one_field_changed_changes_the_leaf() -> None:
    base = entry_leaf_hash(ENTRY)
    for field, value in [("status", 200), ("user_id", "Nguyen Van A"), ("index", 8), ("extra", {})]:
        assert entry_leaf_hash({**ENTRY, field: value}) != base, field


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"latency_us": 1.5}, "latency_us must be an integer"),
        ({"extra": {"ratio": 0.5}}, "floats are not allowed"),
        ({"extra": {"big": 2**60}}, "exceeds 2\\*\\*53-1"),
        ({"time": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"time": "2026-01-01T00:00:00Z"}, "time must be"),
        ({"request_sha256": "ABC"}, "64 lowercase hex"),
        ({"request_sha256": EMPTY_SHA + "\n"}, "64 lowercase hex"),
        ({"time": "2026-11-26T08:30:00.000005Z\n"}, "time must be"),
        ({"time": "２026-11-26T08:30:00.000005Z"}, "time must be"),  # a fullwidth digit
        ({"message_id": ""}, "message_id must be a non-empty string"),
        ({"status": True}, "status must be an integer"),
        ({"index": -1}, "index must be between"),
        ({"body": "secret"}, "unknown field"),
        ({"v": 2}, "version 2 is not 1"),
        ({"user_id": "\ud800"}, "surrogates"),
    ],
)
def test_entries_outside_v1_are_refused_with_the_reason(change: dict, message: str) -> None:
    with pytest.raises(CanonicalError, match=message):
        canonical_entry_bytes({**ENTRY, **change})


def test_pick_entry_fields_maps_store_rows() -> None:
    row = {
        **{k: v for k, v in ENTRY.items() if k not in ("index", "latency_us", "time")},
        "idx": 7,
        "latency_ms": 1.234,
        "time": datetime(2026, 11, 26, 8, 30, 0, 5),  # naive, as SQLite returns it: UTC
        "leaf_hash": b"ignored",
        "chain_hash": b"ignored",
    }
    assert canonical_entry_bytes(pick_entry_fields(row)) == GOLDEN


def test_aware_times_in_any_zone_encode_to_the_same_utc_string() -> None:
    utc = datetime(2026, 11, 26, 8, 30, 0, 5, tzinfo=UTC)
    assert canonical_entry_bytes({**ENTRY, "time": utc}) == GOLDEN


def test_the_plain_python_recipe_in_docs_auditors_reproduces_the_bytes() -> None:
    """docs/auditors.md §8 tells sceptics to use json.dumps; it must agree with v1 for v1 entries."""
    import json

    entry = canonical_entry(ENTRY)
    recipe = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert recipe == GOLDEN


# --- the writer's fast encoder against the reference --------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)  # any non-surrogate code point
_HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
_JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _TEXT,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
                     max_leaves=8)
_ENTRIES = st.fixed_dictionaries(
    {"index": st.integers(0, 2**53 - 1), "status": st.integers(0, 999), "latency_us": st.integers(0, 2**53 - 1),
     "time": st.datetimes(timezones=st.just(UTC)), "message_id": _TEXT.filter(bool), "method": _TEXT.filter(bool),
     "path": _TEXT.filter(bool), "extra": st.dictionaries(_TEXT, _JSON, max_size=3)},
    optional={"correlation_id": st.none() | _TEXT, "client": st.none() | _TEXT, "service": st.none() | _TEXT,
              "user_id": st.none() | _TEXT, "problem_type": st.none() | _TEXT,
              "request_sha256": st.none() | _HEX, "response_sha256": st.none() | _HEX,
              "signature_report_sha256": st.none() | _HEX},
)


@settings(derandomize=True, max_examples=400, deadline=None)
@given(_ENTRIES)
def test_fast_entry_encoding_is_the_reference_jcs(entry: dict) -> None:
    """The template encoder of the writer's hot path gives exactly RFC 8785 bytes (keys beyond the
    BMP, escapes, non-ASCII text and nested extras included)."""
    assert canonical_entry_bytes(entry) == jcs_bytes(canonical_entry(entry))
