"""What an operator does with the outbox: look, replay, purge (used by the CLI; no HTTP needed).

Replays are audited like any acceptance (the row goes back to ``pending`` in the same transaction as
its audit entry), so the log shows who sent a message again and when. Purge only removes finished
rows (delivered, dead) older than a cut-off: a message that still owes a delivery is never deleted.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.orm import Session

from lgsp.audit.writer import append_entries
from lgsp.delivery.models import DEAD, DELIVERED, OPEN_STATES, PENDING, STATES, OutboxMessage
from lgsp.delivery.outbox import now_utc, write_transaction
from lgsp.store import blobs
from lgsp.store.blobs import Blob

FINISHED_STATES = (DELIVERED, DEAD)


class OperationError(Exception):
    """The operator asked for something that cannot be done (unknown id, wrong state)."""


def _aware(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def describe(row: OutboxMessage, with_payload: bool = False, blob_size: int | None = None,
             blob_data: bytes | None = None) -> dict[str, Any]:
    """An operator's view of a message; a payload kept in ``blobs`` is passed as ``blob_size``/``blob_data``."""
    payload = row.payload if row.payload is not None else blob_data
    data: dict[str, Any] = {
        "message_id": row.message_id, "seq": row.seq, "kind": row.kind, "state": row.state,
        "attempts": row.attempts, "ordering_key": row.ordering_key, "client_id": row.client_id,
        "idempotency_key": row.idempotency_key, "destination": row.destination, "remote_id": row.remote_id,
        "last_error": row.last_error, "content_type": row.content_type,
        "payload_bytes": len(row.payload) if row.payload is not None else blob_size,
        "payload_sha256": row.payload_sha256, "audit_index": row.audit_index,
        "created_at": _aware(row.created_at), "updated_at": _aware(row.updated_at),
        "next_attempt_at": _aware(row.next_attempt_at), "lease_until": _aware(row.lease_until),
        "delivered_at": _aware(row.delivered_at),
    }
    if with_payload:
        data["payload"] = bytes(payload).decode("utf-8", "replace") if payload is not None else None
    return data


def list_messages(engine: Engine, state: str | None = None, kind: str | None = None,
                  ordering_key: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first."""
    if state is not None and state not in STATES:
        raise OperationError(f"unknown state {state!r}; one of {', '.join(STATES)}")
    query = (select(OutboxMessage, Blob.size).outerjoin(Blob, Blob.id == OutboxMessage.payload_blob)
             .order_by(OutboxMessage.seq.desc()).limit(limit))
    if state:
        query = query.where(OutboxMessage.state == state)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    if ordering_key:
        query = query.where(OutboxMessage.ordering_key == ordering_key)
    with Session(engine) as session:
        return [describe(row, blob_size=size) for row, size in session.execute(query)]


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all()
    return {state: 0 for state in STATES} | {state: int(n) for state, n in rows}


def find(engine: Engine, message_id: str) -> dict[str, Any]:
    """One message by full id or an unambiguous prefix (at least 8 characters)."""
    query = select(OutboxMessage)
    if len(message_id) >= 36:
        query = query.where(OutboxMessage.message_id == message_id)
    elif len(message_id) >= 8:
        query = query.where(OutboxMessage.message_id.startswith(message_id, autoescape=True)).limit(2)
    else:
        raise OperationError("give the message id, or at least its first 8 characters")
    with Session(engine) as session:
        rows = list(session.scalars(query))
        if not rows:
            raise OperationError(f"no message {message_id!r} in the outbox")
        if len(rows) > 1:
            raise OperationError(f"{message_id!r} matches several messages; give more characters")
        data = blobs.get(session.connection(), rows[0].payload_blob) if rows[0].payload_blob else None
    return describe(rows[0], with_payload=True, blob_size=None if data is None else len(data), blob_data=data)


@dataclass(frozen=True)
class Replayed:
    message_id: str
    previous_state: str
    audit_index: int


def replay(engine: Engine, message_ids: Sequence[str] = (), *, all_dead: bool = False,
           include_delivered: bool = False, operator: str | None = None) -> list[Replayed]:
    """Send messages again: back to ``pending`` now, attempts reset; each replay gets an audit entry.

    Dead messages by default; delivered ones only with ``include_delivered`` (the receiver lost one);
    pending/in-flight ones are refused (they are still being delivered).
    """
    allowed = (DEAD, DELIVERED) if include_delivered else (DEAD,)
    ids = [find(engine, m)["message_id"] for m in message_ids]
    who = operator or f"operator:{getpass.getuser()}"
    done: list[Replayed] = []
    with write_transaction(engine) as conn:
        query = select(OutboxMessage.message_id, OutboxMessage.state)
        query = query.where(OutboxMessage.state == DEAD) if all_dead else query.where(
            OutboxMessage.message_id.in_(ids))
        rows = conn.execute(query.order_by(OutboxMessage.seq)).all()
        for row in rows:
            if row.state not in allowed:
                hint = " (add --include-delivered to send a delivered one again)" if row.state == DELIVERED else ""
                raise OperationError(f"message {row.message_id} is {row.state}; cannot replay it{hint}")
        now = now_utc()
        for row in rows:
            conn.execute(update(OutboxMessage).where(OutboxMessage.message_id == row.message_id).values(
                state=PENDING, attempts=0, next_attempt_at=now, updated_at=now, lease_until=None, lease_token=None))
            entry = {"time": now, "message_id": row.message_id, "client": who, "method": "REPLAY",
                     "path": "lgsp deliveries replay", "status": 202, "latency_us": 0,
                     "extra": {"outbox": "replayed", "previous_state": row.state}}
            done.append(Replayed(row.message_id, row.state, append_entries(conn, [entry])[0]))
    return done


def purge(engine: Engine, older_than: timedelta, states: Sequence[str] = FINISHED_STATES) -> int:
    """Delete finished messages last touched before ``now - older_than``; returns how many."""
    bad = [s for s in states if s in OPEN_STATES or s not in STATES]
    if bad:
        raise OperationError(f"only delivered or dead messages can be purged, not {', '.join(bad)}")
    cutoff = now_utc() - older_than
    with write_transaction(engine) as conn:
        result = conn.execute(delete(OutboxMessage).where(
            OutboxMessage.state.in_(list(states)),
            or_(OutboxMessage.updated_at < cutoff, OutboxMessage.updated_at.is_(None))))
    return int(result.rowcount or 0)
