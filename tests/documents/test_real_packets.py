"""Real-shaped packets through the whole façade: revocations and replacements (PROTOCOLS.md §1.3,
corrected) sent by a DMS and received from the axis, and a relayed packet with the axis' own trace
entries. Fixtures are hand-written (``tests/fixtures/edxml``), not produced by our writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.vdxp.edxml import write_document
from tests.documents.conftest import PEER, SENDER, Stack, document, unique_number

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "edxml"


def fixture(name: str, **numbers: str) -> bytes:
    """A fixture with its placeholder document numbers (``n4521=...``) made unique for this test."""
    data = (FIXTURES / name).read_bytes()
    for placeholder, value in numbers.items():
        data = data.replace(placeholder.removeprefix("n").encode(), value.encode())
    return data


def swap_parties(data: bytes) -> bytes:
    """The same packet as sent the other way (PEER → SENDER)."""
    return data.replace(SENDER.encode(), b"@@").replace(PEER.encode(), SENDER.encode()).replace(b"@@", PEER.encode())


def shown(docs: Stack, doc_id: str) -> dict[str, object]:
    reply = docs.http.get(f"/documents/{doc_id}", headers=docs.auth())
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def test_a_dms_revokes_and_replaces_what_it_sent(docs: Stack) -> None:
    number = unique_number()
    original = document(number=number)
    original_id = docs.post_xml(write_document(original)).json()["message_id"]
    revocation = docs.post_xml(fixture("sdk_revocation.edxml", n4521=number, n4522=unique_number()))
    assert revocation.status_code == 202, revocation.text
    replacement = docs.post_xml(fixture("sdk_replacement.edxml", n4521=number, n4523=unique_number()))
    assert replacement.status_code == 202, replacement.text
    docs.deliver_all()
    target = original.header.document_id
    rev = shown(docs, revocation.json()["message_id"])
    assert rev["revokes"] == [target] and rev["delivery_state"] == "delivered"
    rep = shown(docs, replacement.json()["message_id"])
    assert rep["replaces"] == [target] and rep["delivery_state"] == "delivered"
    held = shown(docs, original_id)
    assert [r["id"] for r in held["revoked_by"]] == [revocation.json()["message_id"]]  # type: ignore[index]
    assert [r["id"] for r in held["replaced_by"]] == [replacement.json()["message_id"]]  # type: ignore[index]
    assert held["superseded"] == "revoked"
    # the axis carried both, byte for byte
    sent = {r.document_id for r in docs.axis.sent.values()}
    assert {rev["document_id"], rep["document_id"]} <= sent


def test_revocation_naming_no_target_is_422_with_the_field(docs: Stack) -> None:
    number = unique_number()
    data = fixture("sdk_revocation.edxml", n4521=number, n4522=unique_number()).replace(
        f"<DocumentId>{SENDER},2026/11/26,{number}/STTTT-VP</DocumentId>".encode(), b"<DocumentId/>")
    before = docs.outbox_count()
    reply = docs.post_xml(data)
    assert reply.status_code == 422 and reply.headers["content-type"].startswith("application/problem+json")
    body = reply.json()
    assert body["code"] == "edxml-missing-target"
    assert body["errors"][0]["field"] == "MessageHeader/ResponseFor/DocumentId"
    assert docs.outbox_count() == before


def test_revocation_and_replacement_from_the_axis_are_received_and_linked(docs: Stack) -> None:
    number = unique_number()
    original = fixture("axis_relayed.edxml", n7816=number)
    docs.peer_send(original)
    revocation = swap_parties(fixture("sdk_revocation.edxml", n4522=unique_number()))
    target = f"{PEER},2026/11/30,{number}/VPCP-TTĐT"
    revocation = revocation.replace(f"{PEER},2026/11/26,4521/STTTT-VP".encode(), target.encode())
    docs.peer_send(revocation)
    replacement = swap_parties(fixture("sdk_replacement.edxml", n4523=unique_number()))
    replacement = replacement.replace(f"{PEER},2026/11/26,4521/STTTT-VP".encode(), target.encode())
    docs.peer_send(replacement)
    report = docs.poll()
    assert report.stored == 3 and report.rejected == 0, report
    incoming = docs.http.get("/documents", params={"direction": "in"}, headers=docs.auth()).json()["items"]
    by_subject = {item["subject"]: item for item in incoming}
    relayed = next(item for item in incoming if item["document_id"] == target)
    assert relayed["deviations"] == []  # a real, well-formed packet: no warnings
    held = shown(docs, relayed["id"])
    assert held["superseded"] == "revoked"
    rev = next(v for k, v in by_subject.items() if k.startswith("V/v thu hồi"))
    rep = next(v for k, v in by_subject.items() if k.startswith("V/v thay thế"))
    assert shown(docs, rev["id"])["revokes"] == [target]
    assert shown(docs, rep["id"])["replaces"] == [target]
    assert [r["id"] for r in held["revoked_by"]] == [rev["id"]]  # type: ignore[index]
    assert [r["id"] for r in held["replaced_by"]] == [rep["id"]]  # type: ignore[index]


def _truncated(data: bytes) -> bytes:
    start = data.index(b"<ContentTransferEncoded>") + len(b"<ContentTransferEncoded>")
    end = data.index(b"</ContentTransferEncoded>")
    return data[:start] + data[start:end][:-3] + data[end:]


@pytest.mark.parametrize("case", ["truncated-base64", "cid-href-names-another", "external-href-unlisted",
                                  "entity-in-payload", "deep-nesting", "huge-text-outside-payload"])
def test_bad_real_shaped_packets_are_422_problems(docs: Stack, case: str) -> None:
    good = fixture("sdk_replacement.edxml", n4521=unique_number(), n4523=unique_number())
    cid = b"cid:8b5e1f47-20aa-4f0e-b7a3-5c9d2e6f7b10"
    data = {
        "truncated-base64": lambda: _truncated(good),
        "cid-href-names-another": lambda: good.replace(b'xlink:href="' + cid, b'xlink:href="cid:other'),
        "external-href-unlisted": lambda: good.replace(b'xlink:href="' + cid, b'xlink:href="http://10.0.0.1/x.pdf'),
        "entity-in-payload": lambda: good.replace(b"<ContentTransferEncoded>", b"<ContentTransferEncoded>&x;"),
        "deep-nesting": lambda: good.replace(b"<Content>", b"<Content>" + b"<a>" * 3000 + b"</a>" * 3000),
        "huge-text-outside-payload": lambda: good.replace(b"<Content>", b"<Content>" + b"x" * (11 * 1024 * 1024)),
    }[case]()
    before = docs.outbox_count()
    reply = docs.post_xml(data)
    assert reply.headers["content-type"] == "application/problem+json"
    if case == "deep-nesting":  # crosses a structural bound of the pre-scan (issue 19.3): 413 naming the bound
        assert reply.status_code == 413, reply.text[:300]
        assert reply.json()["type"].endswith("/payload-too-large") and reply.json()["bound"] == "depth"
    else:
        assert reply.status_code == 422, reply.text[:300]
        assert reply.json()["type"].endswith("/edxml-invalid") and reply.json()["detail"]
    assert docs.outbox_count() == before
