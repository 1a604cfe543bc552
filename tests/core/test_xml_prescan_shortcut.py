"""``lgsp.safexml.within_by_size``: the byte-count proof that lets ``prescan`` skip the streaming scan.

It must never wave through an input the scan would refuse: generated documents (nesting, text runs,
attributes, declarations, BOMs) and bounds are checked against ``signing.xmlbounds.check_bounds``, and
inputs whose ``<`` is not the byte 0x3C (UTF-16, EBCDIC-declared) or that carry a DTD always get the scan.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from lgsp.safexml import UnsafeXmlError, XmlLimitExceeded, XmlLimits, parse_xml, prescan, within_by_size
from signing.xmlbounds import XmlLimitError, check_bounds


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    root = etree.Element("r")
    level = [root]
    for children in draw(st.lists(st.integers(0, 4), max_size=30)):
        if not level:
            break
        parent = level.pop(0)
        for _ in range(children):
            child = etree.SubElement(parent, draw(st.sampled_from(["e", "x:e", "f"])).replace("x:", "{urn:x}"))
            child.text = draw(st.text(st.sampled_from("ab<&é"), max_size=12)) or None
            if draw(st.booleans()):
                child.set("a", draw(st.text(st.sampled_from("ab<>\"'"), max_size=12)))
            level.append(child)
    body = etree.tostring(root, encoding="utf-8")
    head = draw(st.sampled_from([b"", b"<?xml version='1.0' encoding='utf-8'?>\n", b'<?xml version="1.0"?>',
                                 b"\xef\xbb\xbf", b"<?xml version='1.0' encoding='ISO-8859-1'?>"]))
    return head + body


@settings(derandomize=True, max_examples=300, deadline=None)
@given(documents(), st.integers(1, 80), st.integers(1, 10), st.integers(1, 200))
def test_the_shortcut_only_passes_what_the_scan_passes(data: bytes, elements: int, depth: int, text: int) -> None:
    limits = XmlLimits(max_elements=elements, max_depth=depth, max_text=text)
    if within_by_size(data, limits):
        check_bounds(data, limits)  # raises if the shortcut was wrong
    try:
        check_bounds(data, limits)
    except XmlLimitError:
        with pytest.raises(XmlLimitExceeded):
            prescan(data, limits)
    else:
        prescan(data, limits)


@pytest.mark.parametrize("data", [
    "<r><a/><a/></r>".encode("utf-16"),
    b"<?xml version='1.0' encoding='IBM037'?><r/>",
    b"<?xml version='1.0' encoding='UTF-16'?><r/>",
    b"<!DOCTYPE r [<!ENTITY e 'x'>]><r>&e;</r>",
    b"<r><!-- c --></r>",
    b"<?xml version='1.0'?><?pi </x ?><r/>",
    b" <r/>",
    b"<r>\x00</r>",
])
def test_inputs_the_bytes_cannot_vouch_for_get_the_scan(data: bytes) -> None:
    assert not within_by_size(data, XmlLimits())


def test_a_dtd_is_still_refused_after_the_shortcut() -> None:
    with pytest.raises(UnsafeXmlError):
        parse_xml(b"<!DOCTYPE r><r/>")
    with pytest.raises(UnsafeXmlError):
        parse_xml(b"<r><a></r>")  # malformed: no scan, the parser refuses it
