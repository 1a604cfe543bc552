"""The outbox handler contract: what an adapter's `AdapterInfo.delivery_handlers` factory returns.

A handler is an async callable `(Delivery) -> receiver's id | None`; it raises `Retryable` (try again
later, with back-off) or `Permanent` (the receiver refused this content; the message is dead-lettered).
"""

from __future__ import annotations

from lgsp.delivery.claims import Delivery
from lgsp.delivery.errors import Permanent, Retryable
from lgsp.delivery.handlers import Handler

__all__ = ["Delivery", "Handler", "Permanent", "Retryable"]
