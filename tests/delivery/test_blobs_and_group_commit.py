"""The blobs side table (written once, read back byte for byte on both backends, BLOB I/O above the
threshold), migration 0018 moving existing packets, and group commit (one unit's failure is its own)."""

from __future__ import annotations

import hashlib
import random
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, func, insert, select, text

from lgsp.delivery import claims
from lgsp.delivery.models import OutboxMessage
from lgsp.delivery.operations import find
from lgsp.delivery.outbox import NewMessage, accept, enqueue, write_transaction
from lgsp.store import blobs
from lgsp.store.blobs import STREAM_THRESHOLD, Blob
from lgsp.store.db import make_engine
from lgsp.store.group_commit import GroupCommitter
from lgsp.store.migrate import upgrade


@pytest.mark.parametrize("size", [0, 1000, STREAM_THRESHOLD + 12345])
def test_a_blob_reads_back_byte_for_byte(engine: Engine, size: int) -> None:
    data = random.Random(size).randbytes(size)
    with write_transaction(engine) as conn:
        blobs.put(conn, "b-1", data, hashlib.sha256(data).hexdigest())
    with engine.connect() as conn:
        assert blobs.get(conn, "b-1") == data and blobs.size(conn, "b-1") == size
        with pytest.raises(KeyError):
            blobs.get(conn, "nope")


def test_a_blob_written_in_a_rolled_back_transaction_is_gone(engine: Engine) -> None:
    data = b"x" * (STREAM_THRESHOLD + 1)
    with pytest.raises(RuntimeError), write_transaction(engine) as conn:
        blobs.put(conn, "b-2", data, "0" * 64)
        raise RuntimeError("crash before commit")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Blob)) == 0


def test_an_outbox_payload_in_a_blob_is_delivered_and_shown(engine: Engine) -> None:
    data = random.Random(3).randbytes(STREAM_THRESHOLD + 7)
    digest = hashlib.sha256(data).hexdigest()
    message = NewMessage(kind="t", payload=data, message_id="6f1c3c1e-8a52-4d0e-9b8c-6a8d5f0e2a11",
                         payload_sha256=digest, payload_blob="6f1c3c1e-8a52-4d0e-9b8c-6a8d5f0e2a11")
    with write_transaction(engine) as conn:
        blobs.put(conn, "6f1c3c1e-8a52-4d0e-9b8c-6a8d5f0e2a11", data, digest)
        enqueue(conn, message)
    with engine.connect() as conn:
        row = conn.execute(select(OutboxMessage)).one()
    assert row.payload is None and row.payload_sha256 == digest
    (delivery,) = claims.claim(engine, ["t"], 5, 30)
    assert delivery.payload == data and delivery.payload_sha256 == digest
    shown = find(engine, delivery.message_id)
    assert shown["payload_bytes"] == len(data)


def test_group_commit_keeps_the_others_when_one_unit_fails(engine: Engine) -> None:
    committer = GroupCommitter(engine, max_batch=8)
    gate = threading.Event()

    def blocker(conn: Connection) -> None:
        gate.wait(10)  # holds the committer, so the next units queue up and share one batch

    def good(n: int):  # type: ignore[no-untyped-def]
        def unit(conn: Connection) -> int:
            conn.execute(insert(Blob).values(id=f"g{n}", sha256="0" * 64, size=0, created_at=datetime.now(UTC),
                                             data=b""))
            return n
        return unit

    def bad(conn: Connection) -> None:
        conn.execute(insert(Blob).values(id="bad", sha256="0" * 64, size=0, created_at=datetime.now(UTC), data=b""))
        raise ValueError("this one only")

    first = committer.submit(blocker)
    futures = [committer.submit(good(1)), committer.submit(bad), committer.submit(good(2))]
    gate.set()
    first.result(10)
    assert futures[0].result(10) == 1 and futures[2].result(10) == 2
    with pytest.raises(ValueError, match="this one only"):
        futures[1].result(10)
    with engine.connect() as conn:
        assert sorted(conn.scalars(select(Blob.id))) == ["g1", "g2"]


def test_migration_0018_moves_existing_packets(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0016")
        packet = b"<edXMLEnvelope>" + random.Random(1).randbytes(5000) + b"</edXMLEnvelope>"
        digest = hashlib.sha256(packet).hexdigest()
        now = datetime.now(UTC)
        doc_id = "0b7f3f8e-1c1e-4f7e-9d7b-2b7d0a8f6c55"
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO documents (id, direction, kind, agency, sender, recipients, document_id, code, "
                "subject, status_code, packet, packet_sha256, size, duplicates, deviations, created_at, "
                "updated_at) VALUES (:id, 'out', 'edoc', 'A', 'A', '[]', 'd', 'c', 's', NULL, :p, :h, :n, 0, "
                "'[]', :t, :t)"), {"id": doc_id, "p": packet, "h": digest, "n": len(packet), "t": now})
            conn.execute(text(
                "INSERT INTO outbox (message_id, kind, payload, content_type, payload_sha256, request_sha256, "
                "state, attempts, next_attempt_at, created_at, updated_at) VALUES (:id, 'vdxp.send', :p, "
                "'application/xml', :h, :h, 'pending', 0, :t, :t, :t)"),
                {"id": doc_id, "p": packet, "h": digest, "t": now})
            conn.execute(text(
                "INSERT INTO outbox (message_id, kind, payload, content_type, payload_sha256, request_sha256, "
                "state, attempts, next_attempt_at, created_at, updated_at) VALUES ('other', 'http', :p, "
                "'application/json', 'x', 'x', 'pending', 0, :t, :t, :t)"), {"p": b"{}", "t": now})
        upgrade(engine)
        with engine.connect() as conn:
            doc_blob = conn.scalar(text("SELECT packet_blob FROM documents"))
            rows = dict(conn.execute(text("SELECT message_id, payload_blob FROM outbox")).all())
            assert blobs.get(conn, doc_blob) == packet and rows == {doc_id: doc_blob, "other": None}
        (first, second) = sorted(claims.claim(engine, ["vdxp.send", "http"], 5, 30), key=lambda d: d.kind)
        assert first.payload == b"{}" and second.payload == packet
    finally:
        engine.dispose()


def test_accept_still_works_for_inline_payloads(engine: Engine) -> None:
    accept(engine, NewMessage(kind="t", payload=b"small"))
    (delivery,) = claims.claim(engine, ["t"], 5, 30)
    assert delivery.payload == b"small"
