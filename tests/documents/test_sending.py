"""Sending through the façade: acceptance in one transaction, idempotency, delivery to the axis, and every
kind of bad packet refused with a clear problem — with nothing queued for it."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from adapters.vdxp.edxml import Attachment, SignatureInfo, StatusCode, new_content_id, write_document, write_status
from adapters.vdxp.simulator_config import Faults
from lgsp.audit.models import AuditEntry
from lgsp.delivery.models import OutboxMessage
from lgsp.documents.models import Document
from lgsp.documents.signature_policy import canonical_without_signatures
from lgsp.safexml import parse_xml
from lgsp.store import blobs
from lgsp.store.blobs import Blob
from tests.documents.conftest import FAST, OTHER, PEER, SENDER, STRANGER, Stack, document, status

PROBLEM = "https://lgsp.dev/problems/"


def test_accept_commits_document_outbox_and_audit_then_delivers(docs: Stack) -> None:
    packet = write_document(document())
    reply = docs.post_xml(packet, **{"X-LGSP-User-Id": "vanthu01"})
    assert reply.status_code == 202, reply.text
    body = reply.json()
    message_id = body["message_id"]
    assert reply.headers["X-LGSP-Message-Id"] == message_id and body["kind"] == "edoc"
    assert body["recipients"] == [PEER] and body["duplicate"] is False
    with docs.engine.connect() as conn:
        row = conn.execute(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).one()
        doc = conn.execute(select(Document).where(Document.id == message_id)).one()
        audit = conn.execute(select(AuditEntry).where(AuditEntry.message_id == message_id)).one()
        stored = blobs.get(conn, doc.packet_blob)
        kept = conn.scalar(select(func.count()).select_from(Blob).where(Blob.id == doc.packet_blob))
    # the packet is stored once: the documents row and the outbox row reference the same blobs row
    assert row.payload is None and row.payload_blob == doc.packet_blob and kept == 1
    assert stored == packet and row.state == "pending" and row.kind == "vdxp.send"
    assert doc.direction == "out" and doc.agency == SENDER
    assert audit.idx == row.audit_index == doc.audit_index and audit.status == 202 and audit.user_id == "vanthu01"
    assert audit.response_sha256 == hashlib.sha256(reply.content).hexdigest()

    docs.deliver_all()
    shown = docs.http.get(f"/documents/{message_id}", headers=docs.auth()).json()
    assert shown["delivery_state"] == "delivered"
    sent = {s["senderDocId"]: s for s in docs.axis.snapshot()["sent"]}
    assert shown["axis_doc_id"] in sent  # the axis' doc id is recorded
    assert sent[shown["axis_doc_id"]]["documentId"] == shown["document_id"]
    queued = [m for m in docs.axis.snapshot()["messages"] if m["senderDocId"] == shown["axis_doc_id"]]
    assert [m["to"] for m in queued] == [PEER] and queued[0]["hashFile"] == hashlib.sha256(packet).hexdigest()
    listed = docs.http.get("/documents", params={"direction": "out"}, headers=docs.auth()).json()["items"]
    assert message_id in [item["id"] for item in listed]
    raw = docs.http.get(f"/documents/{message_id}/packet", headers=docs.auth())
    assert raw.content == packet


def test_json_base64_and_status_packets(docs: Stack) -> None:
    original = document()
    reply = docs.http.post("/documents", headers=docs.auth(), json={
        "kind": "edoc", "data": base64.b64encode(write_document(original)).decode()})
    assert reply.status_code == 202, reply.text
    # a status packet answering a document PEER sent to SENDER earlier
    incoming = document(sender=PEER, recipients=(SENDER,))
    answer = status(incoming, StatusCode.INBOX, sender=SENDER)
    reply = docs.http.post("/documents", headers=docs.auth(), json={
        "kind": "status", "data": base64.b64encode(write_status(answer)).decode()})
    assert reply.status_code == 202, reply.text
    assert reply.json()["kind"] == "status" and reply.json()["recipients"] == [PEER]
    docs.deliver_all()
    history = docs.axis.snapshot()["statusHistory"][incoming.header.document_id]
    assert [(e["from"], e["code"]) for e in history] == [(SENDER, "01")]


def test_idempotency_key_gives_the_same_message_and_no_duplicate(docs: Stack) -> None:
    packet = write_document(document())
    before = docs.outbox_count()
    first = docs.post_xml(packet, **{"Idempotency-Key": "dms-42"})
    again = docs.http.post("/documents", headers=docs.auth(**{"Idempotency-Key": "dms-42"}),
                           json={"kind": "edoc", "data": base64.b64encode(packet).decode()})
    assert first.status_code == again.status_code == 202
    assert first.json()["message_id"] == again.json()["message_id"]
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["duplicate"] is True
    assert docs.outbox_count() == before + 1
    # another system of the same agency has its own key space
    other_system = docs.post_xml(packet, **{"Idempotency-Key": "dms-42"})
    assert other_system.json()["message_id"] == first.json()["message_id"]
    # the same key for a different packet: 409, the first stands
    clash = docs.post_xml(write_document(document()), **{"Idempotency-Key": "dms-42"})
    assert clash.status_code == 409 and clash.json()["message_id"] == first.json()["message_id"]
    assert docs.outbox_count() == before + 1
    with docs.engine.connect() as conn:
        assert conn.scalar(select(Document.id).where(Document.id == first.json()["message_id"])) is not None


def _bad_packets() -> dict[str, tuple[bytes, str | None, int, str]]:
    good = write_document(document())
    cases: dict[str, tuple[bytes, str | None, int, str]] = {
        "malformed": (good[: len(good) // 2], "edoc", 422, "edxml-invalid"),
        "garbage-before-xml": (b"\x00\x13\xfe\x7f" + good, "edoc", 422, "edxml-invalid"),
        "xxe": (b'<?xml version="1.0"?><!DOCTYPE edXML [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b'<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">&x;</edXML>', "edoc", 422, "edxml-invalid"),
        "entity-bomb": (b'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><b>&b;</b>',
                        "edoc", 422, "edxml-invalid"),
        "wrong-namespace": (good.replace(b"http://www.mic.gov.vn/TBT/QCVN_102_2016", b"http://www.go.vn/eDoc"),
                            "edoc", 422, "edxml-invalid"),
        "missing-document-id": (_without(good, b"DocumentId"), "edoc", 422, "edxml-invalid"),
        "unknown-recipient": (write_document(document(recipients=(STRANGER,))), "edoc", 422, "unknown-recipient"),
        "sender-not-caller": (write_document(document(sender=OTHER)), "edoc", 403, "sender-mismatch"),
        "kind-mismatch": (good, "status", 422, "edxml-invalid"),
        "not-a-zip": (_not_a_zip(), "edoc", 422, "edxml-invalid"),
        "cid-mismatch": (_cid_mismatch(), "edoc", 422, "edxml-invalid"),
        "empty": (b"", "edoc", 422, "edxml-invalid"),
    }
    return cases


def _without(packet: bytes, element: bytes) -> bytes:
    start = packet.index(b"<" + element + b">")
    end = packet.index(b"</" + element + b">") + len(element) + 3
    return packet[:start] + packet[end:]


def _not_a_zip() -> bytes:
    fake = Attachment(new_content_id(), "hoso.zip", b"this is not a zip archive", "application/pdf")
    return write_document(document(attachments=[fake])).replace(b"application/pdf", b"application/zip")


def _cid_mismatch() -> bytes:
    packet = write_document(document())
    cid = packet.split(b"<ContentId>")[1].split(b"</ContentId>")[0]
    return packet.replace(b"<ContentId>" + cid, b"<ContentId>cid:00000000-0000-0000-0000-000000000000", 1)


@pytest.mark.parametrize("case", sorted(_bad_packets()))
def test_bad_packets_are_refused_with_a_problem_and_nothing_queued(docs: Stack, case: str) -> None:
    data, kind, expected_status, expected_type = _bad_packets()[case]
    before = docs.outbox_count()
    reply = docs.post_xml(data, kind=kind)
    assert reply.status_code == expected_status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["type"] == PROBLEM + expected_type and problem["detail"]
    assert docs.outbox_count() == before
    with docs.engine.connect() as conn:  # the refusal itself is audited
        entry = conn.execute(select(AuditEntry).where(
            AuditEntry.message_id == reply.headers["X-LGSP-Message-Id"])).one()
    assert entry.status == expected_status and entry.problem_type == problem["type"]


def test_bad_requests_around_the_packet(docs: Stack) -> None:
    packet = write_document(document())
    cases = [
        (dict(content=packet, headers={"Content-Type": "text/plain"}), 415, "unsupported-media-type"),
        (dict(json={"kind": "edoc", "data": "not base64!"}), 400, "bad-request"),
        (dict(json={"kind": "memo", "data": base64.b64encode(packet).decode()}), 400, "bad-request"),
        (dict(json=["no", "object"]), 400, "bad-request"),
        (dict(content=b"{broken", headers={"Content-Type": "application/json"}), 400, "bad-request"),
        # json.loads raises more than JSONDecodeError on these; each was a 500
        (dict(content=b"[" * 100_000 + b"]" * 100_000, headers={"Content-Type": "application/json"}),
         400, "bad-request"),
        (dict(content=b'{"kind": ' + b"9" * 5000 + b"}", headers={"Content-Type": "application/json"}),
         400, "bad-request"),
        (dict(content=b'{"kind": "edoc", "data": "\xed\xa0\x80"}', headers={"Content-Type": "application/json"}),
         400, "bad-request"),
        (dict(content=packet, headers={"Content-Type": "application/xml", "Idempotency-Key": "bad key"}),
         400, "bad-request"),
    ]
    for kwargs, expected, kind in cases:
        headers = {**docs.auth(), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        reply = docs.http.post("/documents", headers=headers, **kwargs)  # type: ignore[arg-type]
        assert (reply.status_code, reply.json()["type"]) == (expected, PROBLEM + kind), reply.text
    assert docs.http.post("/documents", content=packet).status_code == 401


def test_packet_size_limit(docs: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGSP_MAX_DOCUMENT_BYTES", "20000")
    big = write_document(document(padding=3000))
    reply = docs.post_xml(big)
    assert reply.status_code == 413 and reply.json()["type"] == PROBLEM + "payload-too-large"


def test_signature_hook_refuses_a_failed_signature(docs: Stack) -> None:
    packet = document()
    packet.signature = SignatureInfo(True, xml=b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo/>'
                                               b"<SignatureValue>AAAA</SignatureValue></Signature>")
    data = write_document(packet, validate=False)
    seen: list[bytes] = []

    def failing(raw: bytes, info: SignatureInfo) -> dict[str, str]:
        seen.append(raw)
        return {"indication": "TOTAL_FAILED"}

    docs.app.api.state.documents_signature_hook = failing
    reply = docs.post_xml(data)
    assert reply.status_code == 422 and reply.json()["type"] == PROBLEM + "signature-invalid", reply.text
    assert seen == [data]
    # a hook must say what it verified: here, the whole packet (lgsp acts on the signed content only)
    signed_view = canonical_without_signatures(parse_xml(data))
    docs.app.api.state.documents_signature_hook = lambda raw, info: {"indication": "TOTAL_PASSED",
                                                                     "signed_content": signed_view}
    accepted = docs.post_xml(data)
    assert accepted.status_code == 202 and accepted.json()["signature"] == "TOTAL_PASSED"
    docs.app.api.state.documents_signature_hook = None
    unchecked = docs.post_xml(write_document(document()))
    assert unchecked.json()["signature"] == "unsigned"
    docs.deliver_all()


def test_axis_failures_are_retried_or_dead_lettered(docs: Stack) -> None:
    docs.axis.faults = Faults(error_rate=0.5, seed=7)
    retried = docs.post_xml(write_document(document())).json()["message_id"]
    # 503s are retried until it gets through; 20 attempts so that no draw of the fault generator (other
    # requests may interleave with the sends) can exhaust them (0.5**20)
    docs.deliver_all(replace(FAST, max_attempts=20))
    assert docs.http.get(f"/documents/{retried}", headers=docs.auth()).json()["delivery_state"] == "delivered"
    docs.axis.faults = Faults()
    # the axis no longer knows the recipient (removed after our directory sync): a permanent refusal
    with docs.axis.lock:
        removed = docs.axis.directory.pop(PEER)
    try:
        dead = docs.post_xml(write_document(document())).json()["message_id"]
        docs.deliver_all()
        shown = docs.http.get(f"/documents/{dead}", headers=docs.auth()).json()
        assert shown["delivery_state"] == "dead" and "UNKNOWN_RECIPIENT" in shown["last_error"]
        assert shown["attempts"] == 1
    finally:
        with docs.axis.lock:
            docs.axis.directory[PEER] = removed


def test_documents_are_scoped_to_the_callers_agency(docs: Stack) -> None:
    mine = docs.post_xml(write_document(document())).json()["message_id"]
    assert docs.http.get(f"/documents/{mine}", headers=docs.auth(docs.other)).status_code == 404
    assert docs.http.get(f"/documents/{mine}/packet", headers=docs.auth(docs.other)).status_code == 404
    theirs = docs.http.get("/documents", params={"direction": "out"}, headers=docs.auth(docs.other)).json()
    assert mine not in [item["id"] for item in theirs["items"]]
    assert docs.http.get("/documents", params={"direction": "sideways"}, headers=docs.auth()).status_code == 422
    docs.deliver_all()


def test_agency_directory(docs: Stack) -> None:
    listed = docs.http.get("/agencies", headers=docs.auth()).json()
    assert {a["code"] for a in listed["agencies"]} == {SENDER, OTHER, PEER}
    # a new agency registered on the axis appears after the next sync; recipients may then use it
    newcomer = "000.00.05.G17"
    refused = docs.post_xml(write_document(document(recipients=(newcomer,))))
    assert refused.status_code == 422 and newcomer in refused.text

    async def register() -> None:
        async with docs.peer() as peer:
            await peer.register_agency(newcomer, "Bộ Xây dựng")

    import asyncio

    asyncio.run(register())
    assert docs.sync_directory() == 4
    assert docs.post_xml(write_document(document(recipients=(newcomer,)))).status_code == 202
    docs.deliver_all()
    with docs.axis.lock:
        docs.axis.directory.pop(newcomer)
    assert docs.sync_directory() == 3
    assert json.loads(docs.http.get("/agencies", headers=docs.auth()).content)["count"] == 3


@pytest.mark.parametrize("number", ["9" * 300, "8" * 700])
def test_a_field_longer_than_its_column_is_422_not_500(docs: Stack, number: str) -> None:
    """A 300-character CodeNumber (Code is stored in 200) or a 700-character DocumentId (500) passed the
    reader; on PostgreSQL the INSERT then failed (a 500), taking the documents committed with it along."""
    packet = write_document(document(number=number))
    reply = docs.http.post("/documents", content=packet, headers={**docs.auth(), "Content-Type": "application/xml"})
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["code"] == "field-too-long" and body["errors"][0]["field"].startswith("edXMLHeader/MessageHeader/")
