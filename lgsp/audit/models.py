"""The audit table: one append-only row per exchange, hash-chained to the previous row.

The row keeps hashes of bodies, never the bodies themselves (bodies are optional per service and kept
apart, so they can be redacted without touching the evidence). `leaf_hash` commits to the canonical
entry bytes (format v1, `lgsp.audit.canonical`); `chain_hash` = SHA-256(previous chain_hash || leaf_hash).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from lgsp.audit.tree_store import AuditTreeNode  # noqa: F401 - registers audit_tree_nodes on Base
from lgsp.store.base import Base


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_time", "time"),
        Index("ix_audit_entries_client", "client", "time"),
        Index("ix_audit_entries_service", "service", "time"),
        Index("ix_audit_entries_message_id", "message_id"),
        Index("ix_audit_entries_correlation_id", "correlation_id"),  # the console's "message or correlation id"
    )

    idx: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    message_id: Mapped[str] = mapped_column(String(64))
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    client: Mapped[str | None] = mapped_column(String(100))
    service: Mapped[str | None] = mapped_column(String(170))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2000))
    user_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer)
    latency_us: Mapped[int] = mapped_column(BigInteger)
    request_sha256: Mapped[str | None] = mapped_column(String(64))
    response_sha256: Mapped[str | None] = mapped_column(String(64))
    problem_type: Mapped[str | None] = mapped_column(String(200))
    signature_report_sha256: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditBody(Base):
    """Optional request/response bodies (per service `keep_bodies`); redactable without breaking proofs."""

    __tablename__ = "audit_bodies"

    idx: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    request_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    redacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditHead(Base):
    """A signed tree head (``lgsp.audit.sth.SignedTreeHead``) as stored; one per tree size.

    ``timestamp`` is kept as the exact canonical string that was signed, not a DateTime, so the
    signature verifies byte for byte whatever the database does to time zones or precision.
    """

    __tablename__ = "audit_heads"

    tree_size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                           autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    tsa_token: Mapped[bytes | None] = mapped_column(LargeBinary)


class AuditLogKey(Base):
    """A public log key (what ``GET /audit/keys`` lists); retired keys stay so old heads verify."""

    __tablename__ = "audit_log_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # DER SubjectPublicKeyInfo
    created_at: Mapped[str] = mapped_column(String(32))
    retired_at: Mapped[str | None] = mapped_column(String(32))


class AuditCosignature(Base):
    """A witness's C2SP cosignature/v1 on the checkpoint of one head (``GET /audit/checkpoint`` serves them).

    ``line`` is the exact signature line the witness returned; the checkpoint text it signs is
    rebuilt from the head (origin, size, root), so nothing else needs storing.
    """

    __tablename__ = "audit_cosignatures"

    tree_size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                           autoincrement=False)
    witness: Mapped[str] = mapped_column(String(200), primary_key=True)
    line: Mapped[str] = mapped_column(String(400))
    cosigned_at: Mapped[int] = mapped_column(BigInteger)


class AuditKeyEvent(Base):
    """A log-key rotation or retirement, announced in a checkpoint note signed by the outgoing key.

    ``note`` is the signed checkpoint (with the ``lgsp-next-key`` extension line for a rotation);
    witnesses and verifiers follow the key change only through such a note, never through this table.
    """

    __tablename__ = "audit_key_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))  # rotate | retire
    old_key_id: Mapped[str] = mapped_column(String(64))
    new_key_id: Mapped[str | None] = mapped_column(String(64))
    tree_size: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(4000))
    created_at: Mapped[str] = mapped_column(String(32))
