"""Receiving from the axis: store, then acknowledge; duplicates stored once; bad packets kept and failed;
and the recipient DMS reading and reporting on what arrived."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select

from adapters.vdxp.edxml import SignatureInfo, StatusCode, write_document, write_status
from adapters.vdxp.packets import inspect_packet
from adapters.vdxp.simulator_config import Faults
from lgsp.audit.models import AuditEntry
from lgsp.documents import store
from lgsp.documents.models import Document, RejectedPacket
from tests.documents.conftest import OTHER, PEER, SENDER, Stack, document, status

PROBLEM = "https://lgsp.dev/problems/"


def _axis_status(docs: Stack, axis_doc_id: str) -> str:
    return next(m["status"] for m in docs.axis.snapshot()["messages"] if m["docId"] == axis_doc_id)


def _incoming(docs: Stack, cred: object = None) -> list[dict[str, object]]:
    reply = docs.http.get("/documents", params={"direction": "in"}, headers=docs.auth(cred))  # type: ignore[arg-type]
    assert reply.status_code == 200
    return list(reply.json()["items"])


def _queued_for(docs: Stack, sender_doc_id: str) -> list[str]:
    return [m["docId"] for m in docs.axis.snapshot()["messages"] if m["senderDocId"] == sender_doc_id]


def test_document_and_status_packet_arrive_and_are_acknowledged(docs: Stack) -> None:
    ours = document()
    sent = docs.post_xml(write_document(ours)).json()["message_id"]
    docs.deliver_all()
    incoming = document(sender=PEER, recipients=(SENDER,))
    edoc_axis = docs.peer_send(write_document(incoming))
    reply_packet = write_status(status(ours, StatusCode.ACCEPTED))
    status_axis = docs.peer_send(reply_packet)
    report = docs.poll()
    assert report.stored == 2 and not report.errors
    for sender_doc_id in (edoc_axis, status_axis):
        (axis_doc_id,) = _queued_for(docs, sender_doc_id)
        assert _axis_status(docs, axis_doc_id) == "done"
    items = {item["document_id"]: item for item in _incoming(docs) if item["created_at"]}
    edoc = items[incoming.header.document_id]
    assert edoc["kind"] == "edoc" and edoc["sender"] == PEER and edoc["dms_status"] == "INITIAL"
    packet = docs.http.get(f"/documents/{edoc['id']}/packet", headers=docs.auth())
    assert packet.content == write_document(incoming)
    # the status packet is linked to the document we sent
    shown = docs.http.get(f"/documents/{sent}", headers=docs.auth()).json()
    assert [(s["from"], s["status_code"]) for s in shown["statuses"]] == [(PEER, "03")]
    # nothing for the other department, and its listing does not show SENDER's mail
    assert edoc["id"] not in [item["id"] for item in _incoming(docs, docs.other)]
    assert docs.http.get(f"/documents/{edoc['id']}", headers=docs.auth(docs.other)).status_code == 404
    # the receipt is audited
    with docs.engine.connect() as conn:
        entry = conn.execute(select(AuditEntry).where(AuditEntry.message_id == edoc["id"])).one()
    assert entry.extra["axis_doc_id"] == edoc["axis_doc_id"] and entry.response_sha256 == edoc["sha256"]
    # a second round finds nothing new
    assert docs.poll().stored == 0


def test_duplicates_from_the_axis_are_stored_once(docs: Stack) -> None:
    docs.axis.faults = Faults(duplicate_rate=1.0)
    incoming = document(sender=PEER, recipients=(SENDER, OTHER))
    sender_doc_id = docs.peer_send(write_document(incoming))
    docs.axis.faults = Faults()
    copies = _queued_for(docs, sender_doc_id)
    assert len(copies) == 4  # two copies for each of two recipients
    report = docs.poll()
    assert report.stored == 2 and report.duplicates == 2
    assert all(_axis_status(docs, c) == "done" for c in copies)
    with docs.engine.connect() as conn:
        rows = conn.execute(select(Document.agency, Document.duplicates).where(
            Document.document_id == incoming.header.document_id, Document.direction == "in")).all()
    assert sorted(rows) == [(OTHER, 1), (SENDER, 1)]
    # the sender retried after a lost answer: the same bytes again are the same document
    docs.peer_send(write_document(incoming))
    assert docs.poll().stored == 0


def test_crash_after_store_before_ack_is_not_stored_twice(docs: Stack) -> None:
    incoming = document(sender=PEER, recipients=(SENDER,))
    data = write_document(incoming)
    (axis_doc_id,) = _queued_for(docs, docs.peer_send(data))
    facts = inspect_packet(data, max_bytes=10**8)
    # what a poller that died right after its commit left behind
    kept = store.keep_incoming(docs.engine, SENDER, axis_doc_id, data, facts, _audit)
    assert kept.new and _axis_status(docs, axis_doc_id) == "initial"
    report = docs.poll()
    assert report.stored == 0 and report.acknowledged >= 1
    assert _axis_status(docs, axis_doc_id) == "done"
    with docs.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Document).where(
            Document.document_id == incoming.header.document_id)) == 1


def _audit(doc_id: str) -> dict[str, object]:
    from datetime import UTC, datetime

    return {"time": datetime.now(UTC), "message_id": doc_id, "correlation_id": None, "client": "test",
            "service": None, "method": "POST", "path": "/test", "user_id": None, "status": 200, "latency_us": 0,
            "request_sha256": None, "response_sha256": None, "problem_type": None, "extra": {}}


def test_axis_outage_leaves_messages_waiting(docs: Stack) -> None:
    (axis_doc_id,) = _queued_for(docs, docs.peer_send(write_document(document(sender=PEER, recipients=(SENDER,)))))
    docs.axis.faults = Faults(error_rate=1.0)
    report = docs.poll()
    assert report.stored == 0 and report.errors
    docs.axis.faults = Faults()
    assert _axis_status(docs, axis_doc_id) == "initial"
    assert docs.poll().stored == 1 and _axis_status(docs, axis_doc_id) == "done"


def test_garbled_fetch_is_retried_and_a_bad_packet_is_kept_and_failed(docs: Stack) -> None:
    incoming = document(sender=PEER, recipients=(SENDER,))
    (axis_doc_id,) = _queued_for(docs, docs.peer_send(write_document(incoming)))
    docs.axis.faults = Faults(malformed_fetch_rate=1.0)
    report = docs.poll(parse_attempts=3)
    docs.axis.faults = Faults()
    assert report.rejected == 1 and report.stored == 0
    fetches = next(m["fetchCount"] for m in docs.axis.snapshot()["messages"] if m["docId"] == axis_doc_id)
    assert fetches == 3 and _axis_status(docs, axis_doc_id) == "fail"
    with docs.engine.connect() as conn:
        rejected = conn.execute(select(RejectedPacket).where(RejectedPacket.axis_doc_id == axis_doc_id)).one()
    assert "garbage-before-xml" in rejected.reason and bytes(rejected.packet).endswith(write_document(incoming))
    # one garbled fetch out of several is just retried
    second = document(sender=PEER, recipients=(SENDER,))
    (second_id,) = _queued_for(docs, docs.peer_send(write_document(second)))
    docs.axis.faults = Faults(malformed_fetch_rate=0.5, seed=3)
    try:
        for _ in range(5):
            docs.poll(parse_attempts=10)
    finally:
        docs.axis.faults = Faults()
    assert _axis_status(docs, second_id) == "done"
    assert second.header.document_id in [item["document_id"] for item in _incoming(docs)]


def test_incoming_signature_failure_is_rejected(docs: Stack) -> None:
    packet = document(sender=PEER, recipients=(SENDER,))
    packet.signature = SignatureInfo(True, xml=b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo/>'
                                               b"<SignatureValue>AAAA</SignatureValue></Signature>")
    data = write_document(packet, validate=False)
    (axis_doc_id,) = _queued_for(docs, docs.peer_send(data))
    report = docs.poll(parse_attempts=1, hook=lambda raw, info: {"indication": "TOTAL_FAILED"})
    assert report.rejected == 1 and _axis_status(docs, axis_doc_id) == "fail"


def test_dms_status_transitions(docs: Stack) -> None:
    incoming = document(sender=PEER, recipients=(SENDER,))
    docs.peer_send(write_document(incoming))
    docs.poll()
    doc_id = next(i["id"] for i in _incoming(docs) if i["document_id"] == incoming.header.document_id)

    def put(value: object, cred: object = None) -> tuple[int, dict[str, object]]:
        reply = docs.http.put(f"/documents/{doc_id}/status", json={"status": value},
                              headers=docs.auth(cred))  # type: ignore[arg-type]
        return reply.status_code, reply.json()

    assert put("PROCESSING")[0] == 200
    assert put("PROCESSING")[0] == 200
    code, body = put("DONE")
    assert code == 200 and body == {"id": doc_id, "dms_status": "DONE", "previous": "PROCESSING"}
    code, body = put("PROCESSING")
    assert code == 409 and body["type"] == PROBLEM + "conflict"
    code, body = put("ARCHIVED")
    assert code == 400 and body["type"] == PROBLEM + "bad-request"
    assert put("FAIL", docs.other)[0] == 404
    listed = docs.http.get("/documents", params={"direction": "in", "dms_status": "DONE"}, headers=docs.auth())
    assert doc_id in [item["id"] for item in listed.json()["items"]]
    sent = docs.post_xml(write_document(document())).json()["message_id"]
    reply = docs.http.put(f"/documents/{sent}/status", json={"status": "DONE"}, headers=docs.auth())
    assert reply.status_code == 409
    docs.deliver_all()
    with docs.engine.connect() as conn:
        entries = conn.execute(select(AuditEntry.status).where(AuditEntry.path == f"/documents/{doc_id}/status")).all()
    assert sorted(e.status for e in entries) == [200, 200, 200, 400, 404, 409]


def test_listing_pages(docs: Stack) -> None:
    for _ in range(3):
        docs.peer_send(write_document(document(sender=PEER, recipients=(OTHER,))))
    docs.poll()
    first = docs.http.get("/documents", params={"direction": "in", "limit": 2}, headers=docs.auth(docs.other)).json()
    assert len(first["items"]) == 2 and first["next"] == first["items"][-1]["id"]
    rest = docs.http.get("/documents", params={"direction": "in", "limit": 2, "after": first["next"]},
                         headers=docs.auth(docs.other)).json()
    ids = [i["id"] for i in first["items"]] + [i["id"] for i in rest["items"]]
    assert len(ids) == len(set(ids)) >= 3
    assert all(hashlib.sha256(docs.http.get(f"/documents/{i}/packet", headers=docs.auth(docs.other)).content)
               .hexdigest() == item["sha256"] for item in first["items"] for i in [item["id"]])


def test_dms_status_bodies_past_json_limits_are_400(docs: Stack) -> None:
    """json.loads' digit limit, nesting limit and a lone surrogate: each a 400 problem (the first two were 500s)."""
    incoming = document(sender=PEER, recipients=(SENDER,))
    docs.peer_send(write_document(incoming))
    docs.poll()
    doc_id = next(i["id"] for i in _incoming(docs) if i["document_id"] == incoming.header.document_id)
    for body in (b'{"status": ' + b"9" * 5000 + b"}", b'{"status": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
                 b'{"status": "\ud800"}'):
        reply = docs.http.put(f"/documents/{doc_id}/status", content=body,
                              headers={**docs.auth(), "Content-Type": "application/json"})
        assert reply.status_code == 400, reply.text
        assert reply.headers["content-type"] == "application/problem+json"


def test_a_message_the_store_refuses_does_not_block_the_ones_after_it(docs: Stack) -> None:
    """A store failure on one incoming message (a real one: a trigger refusing its row) ended the whole
    round, so every message listed after it waited for ever. Now the others are stored, the refused one
    stays on the axis, and the next round takes it once the store accepts it."""
    first, second = document(sender=PEER, recipients=(SENDER,)), document(sender=PEER, recipients=(SENDER,))
    docs.peer_send(write_document(first))
    docs.peer_send(write_document(second))
    poison = first.header.document_id.replace("'", "''")
    with docs.engine.begin() as conn:
        if docs.engine.dialect.name == "sqlite":
            conn.exec_driver_sql(f"CREATE TRIGGER lgsp_poison BEFORE INSERT ON documents WHEN NEW.document_id = "
                                 f"'{poison}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        else:
            conn.exec_driver_sql("CREATE FUNCTION lgsp_poison() RETURNS trigger AS $$ BEGIN IF NEW.document_id = "
                                 f"'{poison}' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END "
                                 "$$ LANGUAGE plpgsql")
            conn.exec_driver_sql("CREATE TRIGGER lgsp_poison BEFORE INSERT ON documents FOR EACH ROW "
                                 "EXECUTE FUNCTION lgsp_poison()")
    try:
        report = docs.poll()
        assert report.stored == 1 and len(report.errors) == 1, report
        stored = {item["document_id"] for item in _incoming(docs)}
        assert second.header.document_id in stored and first.header.document_id not in stored
    finally:
        with docs.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER lgsp_poison" + ("" if docs.engine.dialect.name == "sqlite"
                                                                else " ON documents"))
            if docs.engine.dialect.name != "sqlite":
                conn.exec_driver_sql("DROP FUNCTION lgsp_poison()")
    again = docs.poll()
    assert again.stored == 1 and not again.errors
    assert first.header.document_id in {item["document_id"] for item in _incoming(docs)}


def test_a_rejected_packet_is_kept_whatever_the_axis_says_about_it(docs: Stack) -> None:
    """The axis's agency, sender and id are cut to their columns: a rejection must never fail to be kept."""
    store.keep_rejected(docs.engine, "x" * 50, "id-" + "y" * 300, "z" * 100, "edxml-malformed-xml: test", b"<x")
    store.keep_rejected(docs.engine, "x" * 50, "id-" + "y" * 300, "z" * 100, "edxml-malformed-xml: test", b"<x")
    kept = [r for r in store.rejected_packets(docs.engine, 500) if r["axis_doc_id"].startswith("id-yyy")]
    assert len(kept) == 1 and len(kept[0]["axis_doc_id"]) == 200
