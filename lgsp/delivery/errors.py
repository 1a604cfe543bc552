"""What a delivery handler raises to tell the worker what to do next.

Exactly one bit matters: can trying again later help? ``Retryable`` (the receiver is down, slow,
overloaded) → back off and retry, dead-letter only after max attempts. ``Permanent`` (the receiver
refused the content, the configuration is wrong) → dead-letter now, an operator must act. Any other
exception is treated as retryable: a bug or a surprise should not throw a message away.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """Base class of handler failures."""


class Retryable(DeliveryError):
    """Try again later (with backoff)."""


class Permanent(DeliveryError):
    """Resending the same message cannot succeed: dead-letter it for an operator."""
