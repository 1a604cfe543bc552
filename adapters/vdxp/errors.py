"""Errors of the axis client, split by what the caller should do next.

The store-and-forward worker retries :class:`RetryableAxisError` with backoff (the axis or the network
may recover) and dead-letters :class:`PermanentAxisError` at once (retrying a rejected packet or a bad
signature only repeats the rejection).
"""

from __future__ import annotations


class AxisError(Exception):
    """A failed axis call. ``status`` is the HTTP status (None when no response), ``error_code`` the
    axis' ``ErrorCode`` or a client-side code such as ``timeout`` or ``connection``."""

    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None, error_code: str = "") -> None:
        self.message = message
        self.status = status
        self.error_code = error_code
        super().__init__(
            f"{error_code or 'axis-error'} (HTTP {status}): {message}"
            if status
            else f"{error_code or 'axis-error'}: {message}"
        )


class RetryableAxisError(AxisError):
    """5xx, 408/429, timeouts, refused or reset connections, garbled responses: try again later."""

    retryable = True


class PermanentAxisError(AxisError):
    """4xx and explicit rejections (bad signature, bad packet, unknown recipient): do not retry."""

    retryable = False


class AxisResponseTooLarge(PermanentAxisError):
    """The axis's answer grew past what the client takes (``limit`` bytes); reading stopped there.

    Permanent: fetching the same message again would bring the same oversized answer. The poller keeps
    such a message as rejected (``too-large``) instead of downloading it round after round.
    """

    def __init__(self, message: str, *, limit: int, status: int | None = None) -> None:
        super().__init__(message, status=status, error_code="too-large")
        self.limit = limit
