"""Tables of the document façade: every edXML packet lgsp took in or handed out, and the axis directory.

``documents`` keeps one row per packet in either direction, so a DMS can list and fetch what it sent
and what arrived for its agency. Outgoing rows share their id with the outbox message that delivers
them (the outbox says where delivery stands; this table says what the document is). Incoming rows are
unique by the axis' doc id *and* by (recipient agency, SHA-256 of the packet): a re-fetch after a crash
and a duplicate delivery by the axis both land on the row that is already there, so a packet is stored
exactly once however often the axis hands it over.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lgsp.store.base import Base

OUT = "out"
IN = "in"
#: What the recipient DMS says it did with an incoming document (``PUT /documents/{id}/status``).
DMS_STATUSES = ("INITIAL", "PROCESSING", "DONE", "FAIL")
DMS_TRANSITIONS: dict[str, frozenset[str]] = {
    "INITIAL": frozenset({"PROCESSING", "DONE", "FAIL"}),
    "PROCESSING": frozenset({"PROCESSING", "DONE", "FAIL"}),
    "DONE": frozenset(),
    "FAIL": frozenset(),
}


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("axis_doc_id", name="uq_documents_axis_doc_id"),
        UniqueConstraint("dedup_key", name="uq_documents_dedup_key"),
        Index("ix_documents_agency", "agency", "direction", "created_at"),
        Index("ix_documents_document_id", "document_id"),
    )

    #: For outgoing documents the outbox message id (= ``X-LGSP-Message-Id``); a fresh UUID for incoming.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))
    #: ``edoc`` or ``status``.
    kind: Mapped[str] = mapped_column(String(6))
    #: The caller's agency: the sender for ``out``, the recipient for ``in``.
    agency: Mapped[str] = mapped_column(String(40))
    sender: Mapped[str] = mapped_column(String(40))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    #: edXML DocumentId (of the document itself, or — for a status packet — of the document it is about).
    document_id: Mapped[str] = mapped_column(String(500))
    code: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text)
    status_code: Mapped[str | None] = mapped_column(String(2))
    #: The packet's bytes: a row of ``blobs`` (:mod:`lgsp.store.blobs`), written once; this row is updated
    #: on every status change and should not drag the packet along.
    packet_blob: Mapped[str] = mapped_column(String(36))
    packet_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[str | None] = mapped_column(String(100))
    #: Incoming only: the axis' id of the message it was fetched as (outgoing: see ``outbox.remote_id``).
    axis_doc_id: Mapped[str | None] = mapped_column(String(200))
    #: Incoming only: ``{agency}:{packet_sha256}``; NULL for outgoing (two identical sends are two sends).
    dedup_key: Mapped[str | None] = mapped_column(String(80))
    #: Incoming only: later axis copies of the same packet that were dropped as duplicates.
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    dms_status: Mapped[str | None] = mapped_column(String(12))
    deviations: Mapped[list[str]] = mapped_column(JSON)
    signature: Mapped[str | None] = mapped_column(Text)
    audit_index: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


#: What a packet of each BussinessDocType does to the documents it names (PROTOCOLS.md §1.3).
RELATIONS = {1: "revokes", 2: "updates", 3: "replaces"}
#: The same relation seen from the target's side (``GET /documents/{id}`` of the revoked document).
INVERSE = {"revokes": "revoked_by", "updates": "updated_by", "replaces": "replaced_by"}


class DocumentLink(Base):
    """A revocation / update / replacement and the edXML DocumentId it acts on, one row per target.

    Targets are edXML DocumentIds, not our row ids: the revoked document may have arrived earlier, may
    arrive later, or may never have passed through lgsp; ``agency`` scopes the link to the agency that
    holds both (the sender for outgoing packets, the recipient for incoming ones).
    """

    __tablename__ = "document_links"
    __table_args__ = (Index("ix_document_links_target", "agency", "target_document_id"),)

    document: Mapped[str] = mapped_column(String(36), primary_key=True)
    relation: Mapped[str] = mapped_column(String(12), primary_key=True)
    target_document_id: Mapped[str] = mapped_column(String(500), primary_key=True)
    agency: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AxisAgency(Base):
    """The national agency directory as the axis last reported it (``getAgenciesList``)."""

    __tablename__ = "axis_agencies"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    pid: Mapped[str] = mapped_column(String(40))
    mail: Mapped[str] = mapped_column(String(200))
    code102: Mapped[str] = mapped_column(String(40))
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RejectedPacket(Base):
    """An incoming packet lgsp could not accept (not edXML, bad signature...): kept for an operator.

    The axis is told ``fail``; the bytes stay here so nothing an agency sent is silently dropped.
    """

    __tablename__ = "documents_rejected"

    axis_doc_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    agency: Mapped[str] = mapped_column(String(13))
    sender: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    packet: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
