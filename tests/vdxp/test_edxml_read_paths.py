"""The issue-11 touches to the edXML reader that the frozen-oracle property test cannot see.

``test_edxml_fast_read_property`` swaps in the previous *accessor layer*; the root check's shortcut, the
constant field paths of ``read_header`` and the TraceHeaderList attributes live outside that layer, so they
are compared here with what the previous code computed (a copy of it, or its f-strings spelled out).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from vdxp_factories import sample_document

from adapters.vdxp.edxml import NAMESPACE, EdxmlError, read_document, write_document
from adapters.vdxp.edxml.formats import WRONG_NAMESPACES
from adapters.vdxp.edxml.read_context import _Ctx, _reader_name
from adapters.vdxp.edxml.read_tree import _check_root

E = f"{{{NAMESPACE}}}"


def _previous_check_root(root: etree._Element) -> None:
    """``read_tree._check_root`` before the exact-tag shortcut (main at a4c163e)."""
    qname = etree.QName(root)
    if qname.namespace in WRONG_NAMESPACES:
        raise EdxmlError("wrong-namespace", f"namespace {qname.namespace} is a known wrong variant; edXML uses "
                         f"{NAMESPACE}", "/")
    if qname.namespace != NAMESPACE:
        raise EdxmlError("wrong-namespace", f"root {{{qname.namespace or ''}}}{qname.localname} is not in the "
                         f"edXML namespace {NAMESPACE}", "/")
    if qname.localname != "edXML":
        raise EdxmlError("wrong-root", f"root element is {qname.localname}, expected edXML", "/")


def _answer(check: object, root: etree._Element) -> tuple[str, ...]:
    try:
        check(root)  # type: ignore[operator]
    except EdxmlError as exc:
        return (exc.code, exc.path, exc.message)
    return ("ok",)


@given(st.sampled_from([NAMESPACE, "", *sorted(WRONG_NAMESPACES), "urn:x", NAMESPACE + "/"]),
       st.sampled_from(["edXML", "edxml", "Edxml", "edXMLEnvelope", "x"]))
def test_root_check_answers_as_the_qname_check(namespace: str, local: str) -> None:
    root = etree.Element(f"{{{namespace}}}{local}" if namespace else local)
    assert _answer(_check_root, root) == _answer(_previous_check_root, root)


def test_child_index_keeps_the_first_child_per_name_and_counts_repeats() -> None:
    parent = etree.fromstring(
        f'<p xmlns="{NAMESPACE}" xmlns:o="urn:other"><!--c--><A>1</A><?pi x?><o:A>foreign</o:A><B/>'
        f'<A xmlns="">2</A><C/><B>3</B><A>4</A></p>'.encode()
    )
    ctx = _Ctx()
    index = ctx.children(parent)
    kids = [c for c in parent if _reader_name(c.tag)]
    assert list(index) == ["A", "B", "C"]  # first-occurrence order, comments/PIs/foreign left out
    assert index["A"] is kids[0] and index["A"].text == "1"
    assert index["B"] is kids[1] and index["C"] is kids[3]
    assert ctx._dups[parent] == {"A": 3, "B": 2}
    assert ctx.children(parent) is index  # built once


def test_child_index_without_repeats_records_none() -> None:
    parent = etree.fromstring(f'<p xmlns="{NAMESPACE}"><A/><!--c--><B/></p>'.encode())
    ctx = _Ctx()
    assert list(ctx.children(parent)) == ["A", "B"]
    assert ctx._dups == {}


def _mutated(change: str) -> bytes:
    root = etree.fromstring(write_document(sample_document()))
    mh = root.find(f"{E}edXMLEnvelope/{E}edXMLHeader/{E}MessageHeader")
    assert mh is not None
    target, _, value = change.partition("=")
    element = mh.find("/".join(f"{E}{part}" for part in target.split("/")))
    assert element is not None, target
    if value == "<dup>":
        element.addnext(etree.fromstring(etree.tostring(element)))
    else:
        element.text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# The paths the previous f-strings built: f"{p}/Code", f"{p}/PromulgationInfo/PromulgationDate", ...
@pytest.mark.parametrize(("change", "code", "path"), [
    ("PromulgationInfo/PromulgationDate=2026-11-20", "date-format", "MessageHeader/PromulgationInfo/PromulgationDate"),
    ("PromulgationInfo/Place=<dup>", "duplicate-element", "MessageHeader/PromulgationInfo/Place"),
    ("DocumentType/TypeDetail=x", "bad-number", "MessageHeader/DocumentType/TypeDetail"),
    ("DocumentType/TypeName=<dup>", "duplicate-element", "MessageHeader/DocumentType/TypeName"),
    ("Code/CodeNotation=<dup>", "duplicate-element", "MessageHeader/Code/CodeNotation"),
    ("SignerInfo/FullName=<dup>", "duplicate-element", "MessageHeader/SignerInfo/FullName"),
    ("OtherInfo/Direction=maybe", "bad-boolean", "MessageHeader/OtherInfo/Direction"),
    ("OtherInfo/Priority=high", "bad-number", "MessageHeader/OtherInfo/Priority"),
    ("From/OrganName=<dup>", "duplicate-element", "MessageHeader/From/OrganName"),
    ("From/OrganId=null", "missing-field", "MessageHeader/From/OrganId"),
    ("Code/CodeNumber=", "missing-field", "MessageHeader/Code/CodeNumber"),
    ("DocumentType/Type=x", "bad-number", "MessageHeader/DocumentType/Type"),
    ("PromulgationInfo/PromulgationDate=someday", "bad-date", "MessageHeader/PromulgationInfo/PromulgationDate"),
])  # fmt: skip
def test_message_header_fields_keep_their_paths(change: str, code: str, path: str) -> None:
    data = _mutated(change)
    try:
        deviations = read_document(data).deviations
    except EdxmlError as exc:
        assert (exc.code, exc.path) == (code, path)
        return
    assert (code, path) in {(d.code, d.path) for d in deviations}


def test_due_date_keeps_its_path() -> None:
    root = etree.fromstring(write_document(sample_document()))
    mh = root.find(f"{E}edXMLEnvelope/{E}edXMLHeader/{E}MessageHeader")
    assert mh is not None
    due = mh.find(f"{E}DueDate")
    (due if due is not None else etree.SubElement(mh, f"{E}DueDate")).text = "2026-12-01"
    deviations = read_document(etree.tostring(root, xml_declaration=True, encoding="UTF-8")).deviations
    assert ("date-format", "MessageHeader/DueDate") in {(d.code, d.path) for d in deviations}


def test_trace_list_attributes_are_kept_in_order_with_their_namespaces() -> None:
    root = etree.fromstring(write_document(sample_document()))
    trace_list = root.find(f"{E}edXMLEnvelope/{E}edXMLHeader/{E}TraceHeaderList")
    assert trace_list is not None
    for name, value in [("version", "1.0"), ("{urn:soap}mustUnderstand", "1"), ("id", "t-1"), ("actor", "x&y")]:
        trace_list.set(name, value)
    result = read_document(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    attributes = result.packet.trace.attributes
    assert attributes == {str(k): str(v) for k, v in trace_list.attrib.items()}  # what the reader did before
    assert list(attributes) == ["version", "{urn:soap}mustUnderstand", "id", "actor"]
    assert all(type(k) is str and type(v) is str for k, v in attributes.items())
