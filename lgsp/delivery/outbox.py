"""Putting messages into the outbox, inside the caller's transaction.

:func:`enqueue` never commits: it runs on the caller's connection, so the outbox row, the caller's own
rows and the acceptance's audit entry become durable together or not at all. :func:`accept` is the usual
wrapper: one write-locked transaction, enqueue, commit — and one retry when two requests with the same
``Idempotency-Key`` raced (the loser's retry then finds the winner's row and answers with its message id).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lgsp.audit.writer import append_entries
from lgsp.delivery.models import PENDING, OutboxMessage
from lgsp.store.write_lock import queued_writer

#: Builds the acceptance's audit entry once the message id is known: ``(message_id, duplicate) -> entry``.
AuditBuilder = Callable[[str, bool], dict[str, Any]]


@dataclass(frozen=True)
class NewMessage:
    """A message to deliver. ``kind`` names the handler; ``ordering_key`` gives FIFO among equal keys."""

    kind: str
    payload: bytes
    content_type: str = "application/json"
    destination: str | None = None
    ordering_key: str | None = None
    client_id: str | None = None
    idempotency_key: str | None = None
    message_id: str | None = None
    #: SHA-256 hex of the client's request when the stored payload is a normalised form of it;
    #: a reused Idempotency-Key is compared on this. Default: the payload's hash.
    request_sha256: str | None = None
    #: SHA-256 hex of ``payload`` when the caller already computed it (a 50 MB packet is hashed once).
    payload_sha256: str | None = None
    #: The id of a ``blobs`` row (:mod:`lgsp.store.blobs`) the caller wrote ``payload`` to in this
    #: transaction; the outbox row then references it instead of holding a second copy.
    payload_blob: str | None = None

    def __post_init__(self) -> None:
        if self.idempotency_key is not None and not self.client_id:
            raise ValueError("an Idempotency-Key is scoped to a client: client_id is required with it")
        if self.message_id is not None:
            uuid.UUID(self.message_id)  # receivers deduplicate on it: it must be a real UUID

    @property
    def sha256(self) -> str:
        return self.payload_sha256 or hashlib.sha256(self.payload).hexdigest()

    @property
    def fingerprint(self) -> str:
        return self.request_sha256 or self.sha256


@dataclass(frozen=True)
class Enqueued:
    message_id: str
    #: True when the client's Idempotency-Key matched an earlier acceptance (nothing new was queued).
    duplicate: bool
    audit_index: int | None


class IdempotencyConflict(Exception):
    """The client reused an Idempotency-Key for a different request; the first one stands."""

    def __init__(self, message_id: str) -> None:
        super().__init__("this Idempotency-Key was already used for a different request "
                         f"(accepted as message {message_id})")
        self.message_id = message_id


def _connection(session_or_conn: Session | Connection) -> Connection:
    return session_or_conn.connection() if isinstance(session_or_conn, Session) else session_or_conn


def now_utc() -> datetime:
    return datetime.now(UTC)


#: Built once, values passed as parameters: a fresh ``insert(OutboxMessage).values(...)`` per message
#: paid ORM coercion and cache-key work on every acceptance (see bench/documents.py). Same SQL.
_INSERT_MESSAGE = insert(cast(Table, OutboxMessage.__table__))


def enqueue(session_or_conn: Session | Connection, message: NewMessage,
            audit: AuditBuilder | None = None) -> Enqueued:
    """Queue ``message`` (and append its audit entry) in the caller's open transaction; never commits.

    With an Idempotency-Key already used by the same client for the same kind and request, nothing is
    queued and the earlier message id is returned (``duplicate``); for different content
    :class:`IdempotencyConflict` is raised. A concurrent first use of the same key surfaces as
    ``IntegrityError`` from the unique constraint — roll back and call again (:func:`accept` does).
    On SQLite the transaction must have been begun with ``write_lock=True`` (the audit chain needs it).
    """
    conn = _connection(session_or_conn)
    if message.idempotency_key is not None:
        existing = conn.execute(
            select(OutboxMessage.message_id, OutboxMessage.kind, OutboxMessage.request_sha256)
            .where(OutboxMessage.client_id == message.client_id,
                   OutboxMessage.idempotency_key == message.idempotency_key)
        ).first()
        if existing is not None:
            if existing.kind != message.kind or existing.request_sha256 != message.fingerprint:
                raise IdempotencyConflict(existing.message_id)
            index = append_entries(conn, [audit(existing.message_id, True)])[0] if audit else None
            return Enqueued(existing.message_id, True, index)
    message_id = message.message_id or str(uuid.uuid4())
    index = append_entries(conn, [audit(message_id, False)])[0] if audit else None
    now = now_utc()
    sha256 = message.sha256
    conn.execute(_INSERT_MESSAGE, dict(
        message_id=message_id, kind=message.kind, destination=message.destination,
        payload=None if message.payload_blob else message.payload, payload_blob=message.payload_blob,
        content_type=message.content_type, payload_sha256=sha256,
        request_sha256=message.request_sha256 or sha256, ordering_key=message.ordering_key,
        client_id=message.client_id, idempotency_key=message.idempotency_key, state=PENDING, attempts=0,
        next_attempt_at=now, audit_index=index, created_at=now, updated_at=now,
    ))
    return Enqueued(message_id, False, index)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that may append to the audit chain (SQLite: BEGIN IMMEDIATE, queued on
    :func:`~lgsp.store.write_lock.queued_writer`)."""
    with queued_writer(engine), engine.connect().execution_options(write_lock=True) as conn, conn.begin():
        yield conn


def accept(engine: Engine, message: NewMessage, audit: AuditBuilder | None = None) -> Enqueued:
    """Enqueue ``message`` with its audit entry in one transaction of its own and commit it."""
    for attempt in (1, 2):
        try:
            with write_transaction(engine) as conn:
                return enqueue(conn, message, audit)
        except IntegrityError:
            if attempt == 2 or message.idempotency_key is None:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
