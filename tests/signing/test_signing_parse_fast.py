"""The direct parse of small XML (no streaming pre-scan) accepts and refuses exactly what the bounded parse
does: same tree, or the same error message; DTDs stay refused in every encoding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from signing.testing import edxml_document
from signing.xmlbounds import XmlLimitError, XmlLimits, check_bounds, deeper_than, size_proves_bounds
from signing.xmltree import XmlFormatError, _parse_bounded, parse

LIMIT = 64 * 1024 * 1024


def outcome(fn: object, data: bytes) -> tuple[str, str]:
    try:
        root = fn(data, LIMIT)  # type: ignore[operator]
    except XmlFormatError as exc:
        return "refused", str(exc)
    return "tree", etree.tostring(root.getroottree()).decode("utf-8", "replace")


CASES = {
    "edxml": edxml_document(filler_bytes=2_000),
    "bom": b"\xef\xbb\xbf" + edxml_document(),
    "no declaration": b"<r a='1'><b>t</b><!--c--><?p d?></r>",
    "latin-1 declared": '<?xml version="1.0" encoding="ISO-8859-1"?><r>é</r>'.encode("latin-1"),
    "dtd": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "x">]><r>&a;</r>',
    "dtd utf-16": '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY a "x">]><r>&a;</r>'.encode("utf-16"),
    "dtd utf-16 no bom": '<!DOCTYPE r [<!ENTITY a "x">]><r>&a;</r>'.encode("utf-16-le"),
    "doctype text in a comment": b"<r><!-- <!DOCTYPE r> --></r>",
    "too deep for libxml2": b"<a>" * 300 + b"</a>" * 300,
    "deepest accepted": b"<a>" * 256 + b"</a>" * 256,
    "one too deep": b"<a>" * 257 + b"</a>" * 257,
    "malformed": b"<r><a></r>",
    "undeclared entity": b"<r>&nope;</r>",
    "too many elements": b"<r>" + b"<a/>" * 200_001 + b"</r>",
    "not xml": b"%PDF-1.4",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_direct_and_bounded_parse_agree(name: str) -> None:
    data = CASES[name]
    assert outcome(parse, data) == outcome(_parse_bounded, data)


def test_the_refusals_are_the_bounds_own() -> None:
    assert "nests deeper than 256" in outcome(parse, CASES["one too deep"])[1]
    assert "nests deeper than 256" in outcome(parse, CASES["too deep for libxml2"])[1]
    assert "more than 200000 elements" in outcome(parse, CASES["too many elements"])[1]
    for name in ("dtd", "dtd utf-16", "dtd utf-16 no bom"):
        kind, message = outcome(parse, CASES[name])
        assert kind == "refused" and ("DTD" in message or "malformed" in message), name


def test_a_document_that_could_cross_a_bound_is_not_proven_by_its_size() -> None:
    limits = XmlLimits(max_elements=10, max_text=100)
    assert size_proves_bounds(43, limits)
    assert not size_proves_bounds(44, limits)  # 11 elements fit in 44 bytes
    assert not size_proves_bounds(101, XmlLimits(max_text=100))


SMALL = XmlLimits(max_elements=6, max_depth=3, max_text=12)


@st.composite
def small_documents(draw: st.DrawFn, depth: int = 0) -> bytes:
    """Elements, text, comments and attributes, nested up to six levels."""
    parts = []
    for _ in range(draw(st.integers(0, 3 if depth < 6 else 0))):
        kind = draw(st.sampled_from(["element", "text", "comment"]))
        if kind == "element":
            parts.append(draw(small_documents(depth + 1)))
        elif kind == "text":
            parts.append(b"x" * draw(st.integers(1, 15)))
        else:
            parts.append(b"<!--" + b"c" * draw(st.integers(0, 15)) + b"-->")
    attr = b' a="' + b"v" * draw(st.integers(0, 15)) + b'"' if draw(st.booleans()) else b""
    return b"<e" + attr + b">" + b"".join(parts) + b"</e>"


@settings(derandomize=True, max_examples=300, deadline=None, database=None)
@given(small_documents())
def test_size_and_depth_checks_match_the_streaming_scan(data: bytes) -> None:
    try:
        check_bounds(data, SMALL)
        crossed = None
    except XmlLimitError as exc:
        crossed = exc.limit
    if size_proves_bounds(len(data), SMALL):
        assert crossed in (None, "depth")
    root = etree.fromstring(data)
    if crossed is None or crossed == "depth":
        assert deeper_than(root, len(data), SMALL.max_depth) == (crossed == "depth")


def test_small_plain_documents_skip_the_scan_and_others_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    scanned: list[int] = []

    def spy(data: bytes, limits: XmlLimits) -> int:
        scanned.append(len(data))
        return check_bounds(data, limits)

    monkeypatch.setattr("signing.xmltree.check_bounds", spy)
    parse(CASES["edxml"], LIMIT)
    parse(CASES["bom"], LIMIT)
    assert scanned == []
    parse(CASES["latin-1 declared"], LIMIT)
    parse(CASES["doctype text in a comment"], LIMIT)
    assert len(scanned) == 2
