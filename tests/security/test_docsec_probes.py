"""Properties for two attack classes of issue 19 (items 2 and 3), over generated inputs (deterministic, bounded):

* signature wrapping / partial signing: whatever an attacker changes in a wholly signed edXML packet
  (text anywhere, an attachment, an envelope moved or duplicated), lgsp's coverage check no longer
  finds the packet equal to what was signed, and the unchanged packet always is;
* XML memory bounds: the streaming pre-scan refuses exactly the trees over the element or depth bound.
The HTTP-level probes for these classes are tests/documents/test_signature_attacks.py,
tests/documents/test_xml_bounds.py and tests/core/test_xml_bounds.py; object-level access (item 4) is
probed with two agencies in tests/documents/test_object_access.py and tests/dvcqg_flow/test_object_access.py.
"""

from __future__ import annotations

import base64
import functools

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.vdxp.edxml import write_document
from lgsp.documents.signature_policy import covers_whole_packet
from lgsp.safexml import XmlLimitExceeded, XmlLimits, parse_xml
from signing import Policy, TrustStore, Verifier
from signing.testing import build_pki, sign_xml
from signing.xmlbounds import check_bounds
from tests.documents.conftest import document

EDXML = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
MAX = 10 * 1024 * 1024


@functools.cache
def _signed() -> tuple[bytes, bytes]:
    """(a wholly signed packet, the signed view its verifier returned)."""
    pki = build_pki("http://127.0.0.1:9")
    packet = sign_xml(write_document(document(number="4242")), pki.good)
    report = Verifier(TrustStore.from_pem(pki.root_pem), Policy().with_levels(revocation_available="ignore")).verify(
        packet, "application/xml")
    view = report.signatures[0].signed_content
    assert view is not None
    return packet, view


def _text_nodes(root: etree._Element) -> list[etree._Element]:
    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    return [e for e in root.iter() if isinstance(e.tag, str) and not e.tag.startswith(ds) and (e.text or "").strip()
            and not any(isinstance(a.tag, str) and a.tag.startswith(ds) for a in e.iterancestors())]


WORDS = st.text(st.characters(categories=["L", "N", "P", "Zs"]), min_size=1, max_size=8)
MUTATIONS = st.one_of(
    st.tuples(st.just("text"), st.integers(0, 10_000), WORDS),
    st.tuples(st.just("attachment"), st.integers(0, 0), st.binary(min_size=1, max_size=32).map(
        lambda b: base64.b64encode(b).decode())),
    st.tuples(st.just("envelope"), st.integers(0, 1), st.just("")),
)


def _mutate(packet: bytes, kind: str, where: int, value: str) -> bytes:
    root = etree.fromstring(packet)
    if kind == "text":
        nodes = _text_nodes(root)
        node = nodes[where % len(nodes)]
        node.text = (node.text or "") + value
    elif kind == "attachment":
        encoded = root.find(f".//{{{EDXML}}}ContentTransferEncoded")
        assert encoded is not None
        encoded.text = value if value != encoded.text else value + "AAAA"
    else:  # a copy of the envelope before (wrapping) or after the signed one
        envelope = root.find(f"{{{EDXML}}}edXMLEnvelope")
        assert envelope is not None
        root.insert(0 if where == 0 else 1, etree.fromstring(etree.tostring(envelope)))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@settings(derandomize=True, max_examples=60, deadline=None)
@given(MUTATIONS)
def test_no_change_to_a_signed_packet_passes_as_signed(mutation: tuple[str, int, str]) -> None:
    packet, view = _signed()
    assert covers_whole_packet(packet, [view], MAX)
    mutated = _mutate(packet, *mutation)
    assert not covers_whole_packet(mutated, [view], MAX)


def _tree(shape: list[int]) -> tuple[bytes, int, int]:
    root = etree.Element("r")
    level: list[tuple[etree._Element, int]] = [(root, 1)]
    count, depth = 1, 1
    for children in shape:
        if not level:
            break
        parent, parent_depth = level.pop(0)
        for _ in range(children):
            level.append((etree.SubElement(parent, "e"), parent_depth + 1))
            count, depth = count + 1, max(depth, parent_depth + 1)
    return etree.tostring(root), count, depth


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=40), st.integers(1, 60), st.integers(1, 8))
def test_the_prescan_refuses_exactly_the_trees_over_a_bound(shape: list[int], elements: int, depth: int) -> None:
    data, count, tree_depth = _tree(shape)
    limits = XmlLimits(max_elements=elements, max_depth=depth)
    if count <= elements and tree_depth <= depth:
        assert check_bounds(data, limits) == count
    else:
        try:
            parse_xml(data, limits=limits)
        except XmlLimitExceeded as exc:
            assert exc.limit in {"elements", "depth"}
        else:
            raise AssertionError("a tree over a bound was parsed")
