"""Durable store-and-forward delivery (the outbox), reusable by every asynchronous adapter.

Accept: ``enqueue(conn, NewMessage(...), audit=...)`` inside the caller's transaction (or ``accept(engine,
...)`` for a transaction of its own) — the outbox row and the audit entry commit together. Deliver: a
:class:`DeliveryWorker` claims due rows, calls the handler registered for the row's ``kind`` and
records the outcome; Retryable failures back off, Permanent ones and exhausted retries go to ``dead``.
Operate: ``lgsp deliveries list|show|replay|purge``. See docs/operators-delivery.md.
"""

from lgsp.delivery.claims import Delivery
from lgsp.delivery.errors import DeliveryError, Permanent, Retryable
from lgsp.delivery.handlers import HTTP_KIND, Handler, HandlerRegistry, HttpHandler, load_handlers
from lgsp.delivery.models import DEAD, DELIVERED, IN_FLIGHT, PENDING, OutboxMessage
from lgsp.delivery.outbox import Enqueued, IdempotencyConflict, NewMessage, accept, enqueue, write_transaction
from lgsp.delivery.settings import DeliverySettings
from lgsp.delivery.worker import DeliveryWorker

__all__ = [
    "DEAD", "DELIVERED", "HTTP_KIND", "IN_FLIGHT", "PENDING", "Delivery", "DeliveryError", "DeliverySettings",
    "DeliveryWorker", "Enqueued", "Handler", "HandlerRegistry", "HttpHandler", "IdempotencyConflict",
    "NewMessage", "OutboxMessage", "Permanent", "Retryable", "accept", "enqueue", "load_handlers",
    "write_transaction",
]
