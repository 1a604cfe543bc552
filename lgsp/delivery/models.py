"""The outbox table: one row per message lgsp has promised to deliver.

A row is written in the same transaction as the acceptance's audit entry, so "answered 202" and
"will be delivered" are one fact in the store. ``seq`` (insertion order) gives per-ordering-key FIFO;
``message_id`` is what receivers see as ``X-LGSP-Message-Id``; ``lease_until``/``lease_token`` let a
worker that died mid-delivery lose its claim without anyone having to notice it died.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lgsp.store.base import Base

PENDING = "pending"
IN_FLIGHT = "in_flight"
DELIVERED = "delivered"
DEAD = "dead"
STATES = (PENDING, IN_FLIGHT, DELIVERED, DEAD)
#: States that still owe a delivery; an earlier message of the same ordering key in one of them blocks later ones.
OPEN_STATES = (PENDING, IN_FLIGHT)


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("message_id", name="uq_outbox_message_id"),
        UniqueConstraint("client_id", "idempotency_key", name="uq_outbox_client_idempotency"),
        CheckConstraint("state IN ('pending', 'in_flight', 'delivered', 'dead')", name="state"),
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_ordering", "ordering_key", "seq"),
        Index("ix_outbox_kind_state", "kind", "state"),
    )

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(36))
    #: Handler name, e.g. ``http`` or ``dvcqg.dossier``.
    kind: Mapped[str] = mapped_column(String(100))
    #: Where the handler sends it (a URL for ``http``); handlers may ignore it.
    destination: Mapped[str | None] = mapped_column(String(2000))
    #: The payload inline (small JSON messages), or NULL when it is the ``blobs`` row ``payload_blob``
    #: (a document packet: shared with its ``documents`` row, never rewritten by the UPDATEs below).
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    payload_blob: Mapped[str | None] = mapped_column(String(36))
    content_type: Mapped[str] = mapped_column(String(200))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the client's request: a reused Idempotency-Key must come with the same request. Differs
    #: from ``payload_sha256`` when lgsp normalises the request before storing it (defaults filled in).
    request_sha256: Mapped[str] = mapped_column(String(64))
    ordering_key: Mapped[str | None] = mapped_column(String(200))
    client_id: Mapped[str | None] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_token: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    #: The receiver's id for it (the axis' doc id, the dossier code on DVCQG...).
    remote_id: Mapped[str | None] = mapped_column(String(200))
    #: Audit index of the acceptance, so an operator can go from a delivery to its evidence.
    audit_index: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DvcqgPush(Base):
    """DVCQG push ledger: which dossiers lgsp has pushed, so an update is sent as ``isUpdating=True``."""

    __tablename__ = "dvcqg_pushes"

    ma_ho_so: Mapped[str] = mapped_column(String(100), primary_key=True)
    first_pushed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_pushed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    pushes: Mapped[int] = mapped_column(Integer, default=1)
