"""Delivery tuning from ``LGSP_DELIVERY_*`` environment variables (safe defaults for one machine).

A value that cannot be used is a :class:`lgsp.settings.SettingsError` naming the variable, so ``lgsp worker``
and ``python -m lgsp.delivery`` answer it with one ``error:`` line (exit 2), as for any other setting, not a
traceback. Numbers must be finite: a NaN lease passed every ``<=`` check and left leases never compared.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from lgsp.settings import SettingsError, finite_number, whole_number


@dataclass(frozen=True)
class DeliverySettings:
    #: Attempts before a message goes to the dead-letter state (a worker killed mid-delivery counts one).
    max_attempts: int = 12
    #: How long a claim lasts without a heartbeat; a worker that dies loses its messages to another after
    #: this. While a delivery runs, its worker extends the lease every third of it, so a long delivery is
    #: never re-claimed (and sent twice) while it is still running.
    lease_seconds: float = 120.0
    #: First retry delay; doubles per attempt up to ``backoff_max_seconds``, with full jitter.
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 900.0
    #: Deliveries running at once (the pool). A free slot is refilled at once: one slow receiver holds
    #: one slot, never the others.
    batch_size: int = 16
    #: Sleep between claims when nothing was due.
    poll_seconds: float = 1.0
    #: A delivery still running after this is cut off and retried (independent of the lease).
    timeout_seconds: float = 600.0
    #: On SIGTERM, deliveries in hand get this long to finish; the rest are released at once.
    shutdown_grace_seconds: float = 10.0

    def __post_init__(self) -> None:
        for f in fields(self):
            if not math.isfinite(getattr(self, f.name)):
                raise SettingsError(f"LGSP_DELIVERY_{f.name.upper()}: expected a finite number, "
                                    f"got {getattr(self, f.name)!r}")
        if self.max_attempts < 1:
            raise SettingsError("LGSP_DELIVERY_MAX_ATTEMPTS must be at least 1")
        if self.lease_seconds <= 1 or self.batch_size < 1:
            raise SettingsError("LGSP_DELIVERY_LEASE_SECONDS must exceed 1 and LGSP_DELIVERY_BATCH_SIZE be >= 1")
        if self.timeout_seconds <= 0 or self.shutdown_grace_seconds < 0:
            raise SettingsError("LGSP_DELIVERY_TIMEOUT_SECONDS must be > 0, "
                                "LGSP_DELIVERY_SHUTDOWN_GRACE_SECONDS >= 0")
        if self.backoff_base_seconds < 0 or self.backoff_max_seconds < self.backoff_base_seconds:
            raise SettingsError("need 0 <= LGSP_DELIVERY_BACKOFF_BASE_SECONDS <= LGSP_DELIVERY_BACKOFF_MAX_SECONDS")

    @property
    def handler_timeout(self) -> float:
        return self.timeout_seconds

    @property
    def heartbeat_seconds(self) -> float:
        """Leases of running deliveries are extended three times per lease."""
        return self.lease_seconds / 3

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DeliverySettings:
        env = os.environ if environ is None else environ
        values: dict[str, int | float] = {}
        for f in fields(cls):
            name = f"LGSP_DELIVERY_{f.name.upper()}"
            raw = env.get(name)
            if raw:
                values[f.name] = whole_number(raw, name) if f.type == "int" else finite_number(raw, name)
        return cls(**values)  # type: ignore[arg-type]
