"""Memory bounds on the document intakes (issue 19 item 3): a packet with 10 MB of empty elements in one
field, or nested thousands deep, is refused with 413 problem+json before a tree is built — through the
façade (raw XML and JSON/base64) and on receipt from the axis — and nothing is stored."""

from __future__ import annotations

import base64
import time

import pytest

from adapters.vdxp.edxml import write_document
from tests.documents.conftest import PEER, SENDER, Stack, document

PROBLEM = "https://lgsp.dev/problems/"


def bomb(filler: bytes, sender: str = SENDER, recipients: tuple[str, ...] = (PEER,)) -> bytes:
    """A real packet whose Content field holds ``filler`` (markup, not text)."""
    packet = write_document(document(sender=sender, recipients=recipients))
    return packet.replace(b"<Content>", b"<Content>" + filler, 1)


EMPTY_ELEMENTS = b"<x/>" * 1_000_000  # 10 MB of empty elements in one field
DEEP = b"<x>" * 5_000 + b"</x>" * 5_000


@pytest.mark.parametrize(("filler", "bound"), [(EMPTY_ELEMENTS, "elements"), (DEEP, "depth")])
def test_element_bombs_are_refused_with_413(docs: Stack, filler: bytes, bound: str) -> None:
    data = bomb(filler)
    assert b"<Content>" + filler[:20] in data
    before = docs.outbox_count()
    started = time.perf_counter()
    reply = docs.post_xml(data)
    assert reply.status_code == 413, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert (reply.json()["type"], reply.json()["bound"]) == (PROBLEM + "payload-too-large", bound)
    assert time.perf_counter() - started < 10
    as_json = docs.http.post("/documents", json={"kind": "edoc", "data": base64.b64encode(data).decode()},
                             headers=docs.auth())
    assert as_json.status_code == 413 and as_json.json()["bound"] == bound
    assert docs.outbox_count() == before


def test_the_bound_is_a_setting(docs: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGSP_XML_LIMITS_DOCUMENTS", "elements=40")
    reply = docs.post_xml(write_document(document()))
    assert reply.status_code == 413 and reply.json()["bound"] == "elements", reply.text
    monkeypatch.delenv("LGSP_XML_LIMITS_DOCUMENTS")
    assert docs.post_xml(write_document(document())).status_code == 202
    docs.deliver_all()


def test_a_bomb_from_the_axis_is_rejected_not_stored(docs: Stack) -> None:
    # 100 000 empty elements: within what the axis (default bounds) takes, over the documents intake's bound
    docs.peer_send(bomb(b"<x/>" * 100_000, sender=PEER, recipients=(SENDER,)))
    report = docs.poll(parse_attempts=1)
    assert (report.stored, report.rejected) == (0, 1)
