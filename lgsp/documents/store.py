"""Store operations of the document exchange: accept (out), keep (in), list, look up, DMS status, directory.

Accepting an outgoing packet is ONE transaction: the ``documents`` row, the outbox message that will
carry it to the axis and the audit entry of the acceptance commit together, so "answered 202" and
"will be delivered" are one fact.
Concurrent acceptances are group-committed (:mod:`lgsp.store.group_commit`): one transaction and one
fsync for many, each answered after it. Keeping an incoming packet is likewise one transaction (row +
audit entry); the poller acknowledges the axis only after it committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from lgsp.audit.writer import append_entries
from lgsp.delivery.models import OutboxMessage
from lgsp.delivery.outbox import Enqueued, NewMessage, enqueue, write_transaction
from lgsp.documents.models import (
    DMS_TRANSITIONS,
    IN,
    INVERSE,
    OUT,
    RELATIONS,
    AxisAgency,
    Document,
    DocumentLink,
    RejectedPacket,
)
from lgsp.documents.packets import PacketFacts
from lgsp.store import blobs
from lgsp.store.group_commit import committer_for

AuditBuilder = Callable[[str, bool], dict[str, Any]]


def now_utc() -> datetime:
    return datetime.now(UTC)


def accept_outgoing(engine: Engine, data: bytes, facts: PacketFacts, *, kind: str, destination: str,
                    client_id: str, idempotency_key: str | None, audit: AuditBuilder) -> Enqueued:
    """Queue ``data`` for the axis with its documents row and audit entry, in one transaction.

    ``kind`` is the outbox kind of the axis' send handler and ``destination`` what that handler needs
    without re-parsing the packet (both from the document axis, :mod:`lgsp.documents.port`).
    A repeated ``Idempotency-Key`` (same client, same packet) returns the first message id and queues
    nothing; the same key with another packet raises :class:`~lgsp.delivery.outbox.IdempotencyConflict`.
    """
    def unit(conn: Connection) -> Enqueued:
        message = NewMessage(kind=kind, payload=data, content_type="application/xml", destination=destination,
                             ordering_key=facts.ordering_key, client_id=client_id, idempotency_key=idempotency_key,
                             message_id=str(uuid.uuid4()), request_sha256=facts.sha256,
                             payload_sha256=facts.sha256)
        replay = idempotency_key is not None and conn.scalar(select(OutboxMessage.message_id).where(
            OutboxMessage.client_id == client_id, OutboxMessage.idempotency_key == idempotency_key))
        if not replay:  # the packet once, in ``blobs``: the documents and outbox rows both point at it
            assert message.message_id is not None
            blobs.put(conn, message.message_id, data, facts.sha256)
            message = replace(message, payload_blob=message.message_id)
        result = enqueue(conn, message, audit)
        if result.duplicate != bool(replay):  # a racing first use of the key won meanwhile
            raise IntegrityError("idempotency race", None, Exception())
        if not result.duplicate:  # after the outbox row, so the audit index is known: one write, no UPDATE
            _insert(conn, result.message_id, OUT, facts.sender, facts, client_id=client_id,
                    audit_index=result.audit_index)
        return result

    for attempt in (1, 2):
        try:
            # group commit: concurrent acceptances share one transaction (each in a savepoint of its
            # own); run() returns only after that transaction committed, so a 202 still means durable
            return committer_for(engine).run(unit)
        except IntegrityError:  # two first uses of one Idempotency-Key raced; the retry sees the winner
            if attempt == 2 or idempotency_key is None:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


#: One Core INSERT per table, built once, with the values as parameters: ``insert(Model).values(**row)``
#: built a new ORM statement per document, whose coercion and cache key cost more gateway CPU than the
#: whole SQLite write (profiled under bench/documents.py). Same SQL, same defaults, same type processing.
_INSERT_DOCUMENT = insert(cast(Table, Document.__table__))
_INSERT_LINK = insert(cast(Table, DocumentLink.__table__))


def _insert(conn: Connection, doc_id: str, direction: str, agency: str, facts: PacketFacts, *,
            client_id: str | None = None, axis_doc_id: str | None = None, dedup_key: str | None = None,
            audit_index: int | None = None) -> None:
    now = now_utc()
    conn.execute(_INSERT_DOCUMENT, dict(
        id=doc_id, direction=direction, kind=facts.kind, agency=agency, sender=facts.sender,
        recipients=facts.recipients, document_id=facts.document_id, code=facts.code, subject=facts.subject,
        status_code=facts.status_code, packet_blob=doc_id, packet_sha256=facts.sha256, size=facts.size,
        client_id=client_id, axis_doc_id=axis_doc_id, dedup_key=dedup_key, duplicates=0,
        dms_status="INITIAL" if direction == IN else None, deviations=facts.deviations,
        signature=facts.signature, audit_index=audit_index, created_at=now, updated_at=now))
    relation = RELATIONS.get(facts.business_type) if facts.kind == "edoc" else None
    if relation and facts.targets:
        conn.execute(_INSERT_LINK, [
            {"document": doc_id, "relation": relation, "target_document_id": target[:500], "agency": agency,
             "created_at": now} for target in dict.fromkeys(facts.targets)])


@dataclass(frozen=True)
class Kept:
    id: str
    #: False when the packet was already stored (a re-fetch, or a duplicate copy from the axis).
    new: bool


def dedup_key(agency: str, sha256: str) -> str:
    return f"{agency}:{sha256}"


def already_kept(engine: Engine, axis_doc_id: str) -> str | None:
    """The document id under which this axis message was stored (or rejected), if it was."""
    with engine.connect() as conn:
        found = conn.scalar(select(Document.id).where(Document.axis_doc_id == axis_doc_id))
        if found is None and conn.scalar(select(RejectedPacket.axis_doc_id)
                                         .where(RejectedPacket.axis_doc_id == axis_doc_id)) is not None:
            return "rejected"
    return found


def keep_incoming(engine: Engine, agency: str, axis_doc_id: str, data: bytes, facts: PacketFacts,
                  audit: Callable[[str], dict[str, Any]]) -> Kept:
    """Store an incoming packet for ``agency`` exactly once (row + audit entry in one transaction)."""
    key = dedup_key(agency, facts.sha256)
    for _ in (1, 2):
        with write_transaction(engine) as conn:
            existing = conn.execute(select(Document.id, Document.axis_doc_id).where(
                (Document.axis_doc_id == axis_doc_id) | (Document.dedup_key == key))).first()
            if existing is not None:
                if existing.axis_doc_id != axis_doc_id:  # another copy of a packet we already have
                    conn.execute(update(Document).where(Document.id == existing.id)
                                 .values(duplicates=Document.duplicates + 1, updated_at=now_utc()))
                return Kept(existing.id, False)
            doc_id = str(uuid.uuid4())
            try:
                with conn.begin_nested():
                    index = append_entries(conn, [audit(doc_id)])[0]
                    blobs.put(conn, doc_id, data, facts.sha256)
                    _insert(conn, doc_id, IN, agency, facts, axis_doc_id=axis_doc_id, dedup_key=key,
                            audit_index=index)
            except IntegrityError:  # another poller stored it first; look again
                continue
            return Kept(doc_id, True)
    raise RuntimeError(f"could not store axis message {axis_doc_id}")


def keep_rejected(engine: Engine, agency: str, axis_doc_id: str, sender: str, reason: str, data: bytes) -> None:
    # the axis's own fields, cut to their columns: a rejected packet must always be keepable
    axis_doc_id, agency, sender = axis_doc_id[:200], agency[:13], sender[:40]
    with write_transaction(engine) as conn:
        if conn.scalar(select(RejectedPacket.axis_doc_id).where(RejectedPacket.axis_doc_id == axis_doc_id)) is None:
            conn.execute(insert(RejectedPacket).values(axis_doc_id=axis_doc_id, agency=agency, sender=sender,
                                                       reason=reason, packet=data, created_at=now_utc()))


def rejected_packets(engine: Engine, limit: int = 50) -> list[dict[str, Any]]:
    """Incoming packets lgsp refused, newest first (without their bytes), for an operator."""
    with engine.connect() as conn:
        rows = conn.execute(select(RejectedPacket.axis_doc_id, RejectedPacket.agency, RejectedPacket.sender,
                                   RejectedPacket.reason, RejectedPacket.created_at)
                            .order_by(RejectedPacket.created_at.desc()).limit(limit)).all()
    return [{"axis_doc_id": row.axis_doc_id, "agency": row.agency, "sender": row.sender, "reason": row.reason,
             "at": row.created_at.isoformat()} for row in rows]


# ------------------------------------------------------------------------------------------ reading


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def summary(doc: Document, delivery: OutboxMessage | None = None) -> dict[str, Any]:
    """The JSON a DMS sees for one document (without the packet bytes)."""
    item: dict[str, Any] = {
        "id": doc.id, "direction": doc.direction, "kind": doc.kind, "agency": doc.agency, "sender": doc.sender,
        "recipients": doc.recipients, "document_id": doc.document_id, "code": doc.code, "subject": doc.subject,
        "status_code": doc.status_code, "size": doc.size, "sha256": doc.packet_sha256,
        "signature": doc.signature, "deviations": doc.deviations, "created_at": _iso(doc.created_at),
    }
    if doc.direction == OUT:
        item["message_id"] = doc.id
        if delivery is not None:
            item.update(delivery_state=delivery.state, axis_doc_id=delivery.remote_id, attempts=delivery.attempts,
                        delivered_at=_iso(delivery.delivered_at),
                        last_error=delivery.last_error if delivery.state != "delivered" else None)
    else:
        item.update(axis_doc_id=doc.axis_doc_id, dms_status=doc.dms_status, duplicates_dropped=doc.duplicates,
                    updated_at=_iso(doc.updated_at))
    return item


def list_documents(engine: Engine, agency: str, direction: str, *, kind: str | None = None,
                   dms_status: str | None = None, limit: int = 100, after: str | None = None) -> list[dict[str, Any]]:
    """Newest first; ``after`` = the last id of the previous page."""
    query = select(Document.__table__).where(Document.agency == agency, Document.direction == direction)
    if kind:
        query = query.where(Document.kind == kind)
    if dms_status:
        query = query.where(Document.dms_status == dms_status)
    with engine.connect() as conn:
        if after:
            anchor = conn.execute(select(Document.created_at, Document.id).where(Document.id == after)).first()
            if anchor is not None:
                query = query.where((Document.created_at < anchor.created_at)
                                    | ((Document.created_at == anchor.created_at) & (Document.id < anchor.id)))
        query = query.order_by(Document.created_at.desc(), Document.id.desc()).limit(limit)
        docs = [Document(**row._mapping) for row in conn.execute(query)]
        deliveries = _deliveries(conn, [d.id for d in docs if d.direction == OUT])
    return [summary(d, deliveries.get(d.id)) for d in docs]


def _deliveries(conn: Connection, ids: Sequence[str]) -> dict[str, OutboxMessage]:
    if not ids:
        return {}
    cols = [OutboxMessage.message_id, OutboxMessage.state, OutboxMessage.remote_id, OutboxMessage.attempts,
            OutboxMessage.delivered_at, OutboxMessage.last_error]
    rows = conn.execute(select(*cols).where(OutboxMessage.message_id.in_(list(ids)))).all()
    return {r.message_id: OutboxMessage(**r._mapping) for r in rows}


def links(engine: Engine, doc: Document) -> dict[str, Any]:
    """What a document does to others (``revokes``/``updates``/``replaces``: edXML DocumentIds) and what
    others did to it (``revoked_by``/``updated_by``/``replaced_by``: our ids of those packets, oldest
    first), plus ``superseded`` = ``revoked`` | ``replaced`` | None for a document someone revoked/replaced."""
    if doc.kind != "edoc":
        return {}
    with engine.connect() as conn:
        own = conn.execute(select(DocumentLink.relation, DocumentLink.target_document_id)
                           .where(DocumentLink.document == doc.id)).all()
        by = conn.execute(select(DocumentLink.relation, DocumentLink.document, Document.created_at)
                          .join(Document, Document.id == DocumentLink.document)
                          .where(DocumentLink.agency == doc.agency,
                                 DocumentLink.target_document_id == doc.document_id[:500],
                                 DocumentLink.document != doc.id)
                          .order_by(Document.created_at)).all()
    result: dict[str, Any] = {}
    for relation in RELATIONS.values():
        mine = [r.target_document_id for r in own if r.relation == relation]
        if mine:
            result[relation] = mine
        theirs = [{"id": r.document, "at": _iso(r.created_at)} for r in by if r.relation == relation]
        if theirs:
            result[INVERSE[relation]] = theirs
    result["superseded"] = ("revoked" if "revoked_by" in result else "replaced" if "replaced_by" in result
                            else None)
    return result


def get_document(engine: Engine, doc_id: str) -> tuple[Document, OutboxMessage | None, list[dict[str, Any]]] | None:
    """A document, its delivery (outgoing) and the status packets that came back about it."""
    with engine.connect() as conn:
        row = conn.execute(select(Document).where(Document.id == doc_id)).first()
        if row is None:
            return None
        doc = Document(**row._mapping)
        delivery = _deliveries(conn, [doc.id]).get(doc.id) if doc.direction == OUT else None
        statuses: list[dict[str, Any]] = []
        if doc.kind == "edoc":
            rows = conn.execute(select(Document.id, Document.sender, Document.status_code, Document.subject,
                                       Document.created_at).where(
                Document.direction == IN, Document.kind == "status", Document.agency == doc.sender,
                Document.document_id == doc.document_id).order_by(Document.created_at)).all()
            statuses = [{"id": r.id, "from": r.sender, "status_code": r.status_code, "description": r.subject,
                         "received_at": _iso(r.created_at)} for r in rows]
    return doc, delivery, statuses


def packet_bytes(engine: Engine, doc: Document) -> bytes:
    """The packet of ``doc`` exactly as sent or received (from its ``blobs`` row)."""
    with engine.connect() as conn:
        return blobs.get(conn, doc.packet_blob)


class TransitionError(ValueError):
    pass


def set_dms_status(engine: Engine, doc: Document, status: str, audit: dict[str, Any]) -> int:
    """Record what the recipient DMS did with an incoming document; returns the audit index."""
    current = doc.dms_status or "INITIAL"
    allowed = DMS_TRANSITIONS.get(current, frozenset())
    if status not in allowed:
        raise TransitionError(f"{current} -> {status} is not allowed "
                              f"(from {current}: {', '.join(sorted(allowed)) or 'nothing, it is final'})")
    with write_transaction(engine) as conn:
        changed = conn.execute(update(Document).where(Document.id == doc.id, Document.dms_status == doc.dms_status)
                               .values(dms_status=status, updated_at=now_utc())).rowcount
        if not changed:
            raise TransitionError("the document's status changed meanwhile; read it again")
        return append_entries(conn, [audit])[0]


# ------------------------------------------------------------------------------------------ directory


def replace_directory(engine: Engine, agencies: Sequence[Any]) -> int:
    """Make ``axis_agencies`` equal to what the axis listed (objects with code/name/pid/mail/code102)."""
    now = now_utc()
    rows = {a.code: a for a in agencies if getattr(a, "code", "")}
    with write_transaction(engine) as conn:
        conn.execute(delete(AxisAgency).where(AxisAgency.code.not_in(list(rows))))
        present = set(conn.scalars(select(AxisAgency.code)))
        for code, a in rows.items():
            values = dict(name=a.name[:500], pid=a.pid[:40], mail=a.mail[:200], code102=(a.code102 or code)[:40],
                          synced_at=now)
            if code in present:
                conn.execute(update(AxisAgency).where(AxisAgency.code == code).values(**values))
            else:
                conn.execute(insert(AxisAgency).values(code=code, **values))
    return len(rows)


def directory(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(AxisAgency).order_by(AxisAgency.code)).all()
    return [{"code": r.code, "name": r.name, "parent": r.pid or None, "mail": r.mail, "code102": r.code102,
             "synced_at": _iso(r.synced_at)} for r in rows]


def unknown_agencies(engine: Engine, codes: Sequence[str]) -> tuple[list[str], int]:
    """(codes not in the directory, directory size) — size 0 means it was never synced.

    One query when every code is known (every accepted packet): the size is counted only when a code is
    missing, and a known code already proves the directory is not empty (the size is then at least 1).
    """
    wanted = list(codes)
    with engine.connect() as conn:
        known: set[str] = set()
        for code, code102 in conn.execute(select(AxisAgency.code, AxisAgency.code102).where(
                AxisAgency.code.in_(wanted) | AxisAgency.code102.in_(wanted))):
            known.add(code)
            if code102 is not None:
                known.add(code102)
        unknown = [c for c in codes if c not in known]
        if known and not unknown:
            return unknown, len(known)
        size = int(conn.scalar(select(func.count()).select_from(AxisAgency)) or 0)
    return unknown, size
