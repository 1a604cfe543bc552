"""Claiming due messages and recording what happened to them (the worker's store operations).

Claiming is one short transaction: pick due rows with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL;
any number of workers on any number of nodes each get different rows), mark them ``in_flight`` with a
lease and a fresh token, commit. On SQLite the transaction is BEGIN IMMEDIATE, so claims are serialised
(one claimer at a time, which is all SQLite can do anyway).

A row is due when it is ``pending`` and its ``next_attempt_at`` has passed, or ``in_flight`` with an
expired lease (its worker died). It is held back while an earlier row (lower ``seq``) with the same
``ordering_key`` is still pending or in flight — per-key FIFO. Dead rows do not hold back later ones: a
later message should not wait for an operator.

Outcomes are written only if the lease token still matches, so a worker that lost its lease (it was
too slow, another worker re-claimed the row) cannot overwrite the newer claim's outcome.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Select, String, Table, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from lgsp.delivery.models import DEAD, DELIVERED, IN_FLIGHT, OPEN_STATES, PENDING, OutboxMessage
from lgsp.delivery.outbox import now_utc, write_transaction
from lgsp.store import blobs

_MAX_ERROR = 4000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _error_text(error: str) -> str:
    """The reason as stored: control characters written as ``\\xNN``, at most ``_MAX_ERROR`` characters.

    Handlers quote what the receiver said, and a receiver's body may hold NUL: PostgreSQL refuses it in
    text, so recording the failure failed, and the message came back after every lease, never dead.
    """
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", error)[:_MAX_ERROR]


@dataclass(frozen=True)
class Delivery:
    """One claimed message, as a handler sees it."""

    seq: int
    message_id: str
    kind: str
    destination: str | None
    payload: bytes
    content_type: str
    ordering_key: str | None
    client_id: str | None
    idempotency_key: str | None
    #: 1 on the first try; includes tries of workers that died.
    attempt: int
    lease_token: str
    #: SHA-256 hex of ``payload`` as stored at acceptance (a handler that sends a hash need not rehash).
    payload_sha256: str | None = None


def claim(engine: Engine, kinds: Collection[str], limit: int, lease_seconds: float,
          now: datetime | None = None) -> list[Delivery]:
    """Claim up to ``limit`` due messages of ``kinds`` for ``lease_seconds``."""
    if not kinds:
        return []
    now = now or now_utc()
    pick = _pick(kinds, now, limit)
    token = secrets.token_hex(16)
    with write_transaction(engine) as conn:
        return _claim_on(conn, pick, now, lease_seconds, token)


def claim_unit(kinds: Collection[str], limit: int, lease_seconds: float) -> Callable[[Connection], list[Delivery]]:
    """:func:`claim` as a unit of work for a :class:`~lgsp.store.group_commit.GroupCommitter` (the worker's).

    The deliveries must not be started before the unit's transaction committed (the future resolves then).
    """
    def unit(conn: Connection) -> list[Delivery]:
        if not kinds:
            return []
        now = now_utc()
        return _claim_on(conn, _pick(kinds, now, limit), now, lease_seconds, secrets.token_hex(16))
    return unit


def _claim_on(conn: Connection, pick: Select[Any], now: datetime, lease_seconds: float,
              token: str) -> list[Delivery]:
    row = OutboxMessage
    seqs = list(conn.scalars(pick))
    if not seqs:
        return []
    conn.execute(update(row).where(row.seq.in_(seqs)).values(
        state=IN_FLIGHT, attempts=row.attempts + 1, lease_until=now + timedelta(seconds=lease_seconds),
        lease_token=token, updated_at=now))
    rows = conn.execute(select(row).where(row.seq.in_(seqs)).order_by(row.seq)).all()
    return [Delivery(r.seq, r.message_id, r.kind, r.destination, payload_of(conn, r), r.content_type,
                     r.ordering_key, r.client_id, r.idempotency_key, r.attempts, token, r.payload_sha256)
            for r in rows]


def payload_of(conn: Connection, row: Any) -> bytes:
    """An outbox row's payload: inline, or read from its ``blobs`` row."""
    if row.payload_blob is not None:
        return blobs.get(conn, row.payload_blob)
    return bytes(row.payload)


def _pick(kinds: Collection[str], now: datetime, limit: int) -> Select[Any]:
    row = OutboxMessage
    earlier = aliased(OutboxMessage)
    held_back = exists().where(earlier.ordering_key == row.ordering_key, earlier.seq < row.seq,
                               earlier.state.in_(OPEN_STATES))
    due = or_(and_(row.state == PENDING, row.next_attempt_at <= now),
              and_(row.state == IN_FLIGHT, row.lease_until <= now))
    return (select(row.seq).where(row.kind.in_(list(kinds)), due, ~held_back)
            .order_by(row.seq).limit(limit).with_for_update(skip_locked=True, of=row))


def _owned(delivery: Delivery) -> list[ColumnElement[bool]]:
    return [OutboxMessage.seq == delivery.seq, OutboxMessage.lease_token == delivery.lease_token,
            OutboxMessage.state == IN_FLIGHT]


def mark_delivered(engine: Engine, delivery: Delivery, remote_id: str | None) -> bool:
    """Record success; False if the lease was lost meanwhile (the newer claim will deliver again)."""
    with write_transaction(engine) as conn:
        return delivered_on(conn, delivery, remote_id)


#: Success, built once with bound parameters: building the UPDATE per delivery (where clauses, values,
#: cache key) cost the worker more CPU than executing it. Same SQL as ``update(...).where(*_owned(...))``.
_DELIVERED = (update(cast(Table, OutboxMessage.__table__))
              .where(OutboxMessage.seq == bindparam("o_seq"), OutboxMessage.lease_token == bindparam("o_token"),
                     OutboxMessage.state == IN_FLIGHT)
              .values(state=DELIVERED, remote_id=bindparam("o_remote"), delivered_at=bindparam("o_now"),
                      updated_at=bindparam("o_now"), lease_until=None, lease_token=None))


#: ``outbox_messages.remote_id``'s length. The id is the partner's: a longer one failed the UPDATE on
#: PostgreSQL, and with it the worker's whole group commit, so delivered messages were delivered again.
_REMOTE_ID_LENGTH = cast(int, cast(String, cast(Table, OutboxMessage.__table__).c.remote_id.type).length)


def delivered_on(conn: Connection, delivery: Delivery, remote_id: str | None) -> bool:
    """:func:`mark_delivered` in the caller's transaction (the worker's group commit)."""
    remote = remote_id[:_REMOTE_ID_LENGTH] if remote_id else remote_id
    result = conn.execute(_DELIVERED, {"o_seq": delivery.seq, "o_token": delivery.lease_token,
                                       "o_remote": remote, "o_now": now_utc()})
    return bool(result.rowcount)


def mark_failed(engine: Engine, delivery: Delivery, error: str, *, dead: bool, retry_in: float) -> bool:
    """Record a failure: back to ``pending`` after ``retry_in`` seconds, or ``dead``."""
    with write_transaction(engine) as conn:
        return failed_on(conn, delivery, error, dead=dead, retry_in=retry_in)


def failed_on(conn: Connection, delivery: Delivery, error: str, *, dead: bool, retry_in: float) -> bool:
    """:func:`mark_failed` in the caller's transaction (the worker's group commit)."""
    now = now_utc()
    values: dict[str, object] = {"last_error": _error_text(error), "updated_at": now, "lease_until": None,
                                 "lease_token": None}
    if dead:
        values["state"] = DEAD
    else:
        values.update(state=PENDING, next_attempt_at=now + timedelta(seconds=retry_in))
    result = conn.execute(update(OutboxMessage).where(*_owned(delivery)).values(**values))
    return bool(result.rowcount)


def extend_leases(engine: Engine, deliveries: Collection[Delivery], lease_seconds: float) -> set[int]:
    """Heartbeat: push the lease of each still-owned running delivery ``lease_seconds`` ahead.

    Returns the seqs still owned; a delivery missing from it was re-claimed (its lease ran out while the
    store was unreachable), and its outcome will be refused by the token check.
    """
    if not deliveries:
        return set()
    now = now_utc()
    owned: set[int] = set()
    by_token: dict[str, list[int]] = {}
    for delivery in deliveries:
        by_token.setdefault(delivery.lease_token, []).append(delivery.seq)
    row = OutboxMessage
    with write_transaction(engine) as conn:
        for token, seqs in by_token.items():
            conn.execute(update(row).where(row.seq.in_(seqs), row.lease_token == token, row.state == IN_FLIGHT)
                         .values(lease_until=now + timedelta(seconds=lease_seconds)))
            owned.update(conn.scalars(select(row.seq).where(row.seq.in_(seqs), row.lease_token == token,
                                                            row.state == IN_FLIGHT)))
    return owned


def release(engine: Engine, deliveries: Collection[Delivery], reason: str) -> int:
    """Give claimed deliveries back at once (clean shutdown): due now, for any worker; returns how many.

    The attempt still counts — the receiver may have seen it — and ``reason`` is kept as the last error.
    """
    now = now_utc()
    released = 0
    with write_transaction(engine) as conn:
        for delivery in deliveries:
            result = conn.execute(update(OutboxMessage).where(*_owned(delivery)).values(
                state=PENDING, next_attempt_at=now, lease_until=None, lease_token=None, updated_at=now,
                last_error=_error_text(reason)))
            released += int(result.rowcount or 0)
    return released


def open_count(engine: Engine, kinds: Collection[str] | None = None) -> int:
    """How many messages still owe a delivery (pending or in flight)."""
    query = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state.in_(OPEN_STATES))
    if kinds is not None:
        query = query.where(OutboxMessage.kind.in_(list(kinds)))
    with engine.connect() as conn:
        return int(conn.scalar(query) or 0)


__all__ = ["Delivery", "claim", "claim_unit", "delivered_on", "extend_leases", "failed_on", "mark_delivered",
           "mark_failed", "open_count", "release"]
