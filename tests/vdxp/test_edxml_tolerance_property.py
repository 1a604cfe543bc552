"""Property: any canonical packet, mangled the way other vendors write, reads back to the same model.

The mangling combines the tolerated variants of PROTOCOLS.md §1: shuffled MessageHeader children, an
``edXML:`` prefix on every element, attachment content ids without ``cid:``, ISO dates. The reader must
return the same header and attachments and list each kind of deviation; a shuffled order is none.
"""

from __future__ import annotations

import random
import re

import pytest
from lxml import etree
from vdxp_factories import random_document

from adapters.vdxp.edxml import NAMESPACE, read_document, write_document

E = f"{{{NAMESPACE}}}"


def mangle(data: bytes, rng: random.Random) -> tuple[bytes, set[str]]:
    root = etree.fromstring(data)
    expected: set[str] = set()
    header = root.find(f"{E}edXMLEnvelope/{E}edXMLHeader/{E}MessageHeader")
    assert header is not None
    children = list(header)
    order = [child.tag for child in children]
    rng.shuffle(children)
    # The order among repeated elements (To, ResponseFor) is meaningful: keep it, move only the blocks.
    same_tag = {tag: iter([c for c in list(header) if c.tag == tag]) for tag in order}
    children = [next(same_tag[c.tag]) for c in children]
    header[:] = children
    # element order is free (PROTOCOLS.md §1.3): neither a deviation nor a schema error
    for content_id in root.iterfind(f"{E}AttachmentEncoded/{E}Attachment/{E}ContentId"):
        content_id.text = (content_id.text or "").removeprefix("cid:")
        expected.add("cid-prefix")
    due = header.find(f"{E}DueDate")
    if due is not None and rng.random() < 0.5:
        due.text = (due.text or "").replace("/", "-")
        expected.add("date-format")
    text = etree.tostring(root, encoding="unicode")
    if rng.random() < 0.5:
        text = re.sub(r"<(/?)([A-Za-z])", r"<\1edXML:\2", text).replace("xmlns=", "xmlns:edXML=", 1)
    if "date-format" in expected:
        expected.add("schema")  # an ISO date is a real departure from the XSD
    return text.encode("utf-8"), expected


@pytest.mark.parametrize("seed", range(60))
def test_mangled_packets_read_back_to_the_same_model(seed: int) -> None:
    rng = random.Random(1000 + seed)
    packet = random_document(rng)
    canonical = write_document(packet)
    mangled, expected = mangle(canonical, rng)
    result = read_document(mangled)
    assert result.packet.header == packet.header
    assert [(a.content_id, a.content) for a in result.packet.attachments] == [
        (a.content_id, a.content) for a in packet.attachments
    ]
    assert result.codes == expected
    assert write_document(result.packet) == canonical
