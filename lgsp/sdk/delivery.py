"""The outbox, from an adapter's side: handing it a message, and the handlers that deliver it.

Accepting: an API router builds a `NewMessage` and calls `accept(engine, message, audit)`, which stores
it with its audit entry in one transaction (`Enqueued` says where; a reused Idempotency-Key with another
body raises `IdempotencyConflict`). `OutboxMessage` is the stored row, for a "where is my message" answer.

Delivering: an adapter's `AdapterInfo.delivery_handlers` factory `(engine) -> dict[kind, Handler]`
returns handlers; a handler is an async callable `(Delivery) -> receiver's id | None` that raises
`Retryable` (try again later, with back-off) or `Permanent` (the receiver refused this content; the
message is dead-lettered).

State an adapter keeps next to its deliveries: `write_transaction(engine)` is a write transaction that
serialises with the audit chain (SQLite: BEGIN IMMEDIATE), `now_utc` the store's clock, and `DvcqgPush`
the DVCQG push ledger's table (kept in the core's model set because the core's migration chain creates it
and the operator console reads it).
"""

from __future__ import annotations

from lgsp.delivery.claims import Delivery
from lgsp.delivery.errors import Permanent, Retryable
from lgsp.delivery.handlers import Handler
from lgsp.delivery.models import DvcqgPush, OutboxMessage
from lgsp.delivery.outbox import Enqueued, IdempotencyConflict, NewMessage, accept, now_utc, write_transaction

__all__ = [
    "Delivery", "DvcqgPush", "Enqueued", "Handler", "IdempotencyConflict", "NewMessage", "OutboxMessage",
    "Permanent", "Retryable", "accept", "now_utc", "write_transaction",
]
