"""Declared traffic limits and the calendar arithmetic of quota windows.

A limit is declared for a service and a caller scope:

- a client system id: that system's own counters;
- ``*``: every client system, each with its own counters (a per-consumer default);
- ``""`` (omitted in files): all callers of the service together (the bulkhead in front of a fragile provider).

Quotas reset at calendar boundaries in Asia/Ho_Chi_Minh time (UTC+7, no daylight saving), because that is the
clock the province's agreements with national services are written in: "1,000 calls a day" means a day in
Vietnam, not in UTC.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

QUOTA_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
QUOTA_PERIODS = ("hour", "day", "month")
EACH_CLIENT = "*"
ALL_CALLERS = ""

#: Bounds that keep every limit storable and every counter computable on every backend: counts are SQL INTEGER
#: columns (32-bit on PostgreSQL, so a larger value was a 500 there and an OverflowError past 2**63 on SQLite),
#: and a rate slower than one a day is a quota (its GCRA window would outgrow Redis's key expiry arithmetic).
MAX_COUNT = 2**31 - 1
MIN_RATE = 1 / 86400
MAX_RATE = 1_000_000.0

_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_RATE_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
               "h": 3600.0, "hour": 3600.0}


@dataclass(frozen=True)
class TrafficLimit:
    """One declared limit (any of rate, quota, concurrency may be absent)."""

    service: str
    client: str  # a system id, EACH_CLIENT or ALL_CALLERS
    rate_per_second: float | None = None
    burst: int | None = None
    quota: int | None = None
    quota_period: str | None = None
    concurrency: int | None = None

    @property
    def scope_name(self) -> str:
        """Short name used in RateLimit headers and metrics: 'client' (own counters) or 'service' (shared)."""
        return "service" if self.client == ALL_CALLERS else "client"

    @property
    def effective_burst(self) -> int:
        """Requests admitted at once; defaults to one second's worth of the rate (at least 1)."""
        if self.burst is not None:
            return self.burst
        return max(1, math.ceil(self.rate_per_second or 1))

    def counter_scope(self, client_system: str) -> str:
        """The part of counter keys that says whose counter it is."""
        return "all" if self.client == ALL_CALLERS else client_system


def parse_rate(value: object) -> float:
    """`20` (per second), `"20/s"`, `"600/min"`, `"5000/h"` -> requests per second."""
    if isinstance(value, bool):
        raise ValueError("rate must be a number of requests per second or 'N/s', 'N/min', 'N/h'")
    if isinstance(value, int | float):
        rate = float(value)
    else:
        match = _RATE_RE.match(str(value))
        if not match:
            raise ValueError(f"rate {value!r} is not a number or 'N/s', 'N/min', 'N/h'")
        rate = float(match.group(1)) / _RATE_UNITS[match.group(2)]
    if not rate > 0 or math.isinf(rate):
        raise ValueError("rate must be greater than zero")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"rate must be between one a day (1/86400 per second) and {MAX_RATE:,.0f} per second; "
                         "for fewer calls a day declare a quota")
    return rate


def quota_window(period: str, now: float) -> tuple[float, float]:
    """Start and end (epoch seconds) of the calendar window holding ``now``, in Vietnam time."""
    local = datetime.fromtimestamp(now, QUOTA_ZONE)
    if period == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
        end = start + timedelta(hours=1)
    elif period == "day":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + timedelta(days=1)
    elif period == "month":
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    else:
        raise ValueError(f"quota period must be one of {', '.join(QUOTA_PERIODS)}, not {period!r}")
    return start.timestamp(), end.timestamp()


def validate(limit: TrafficLimit) -> TrafficLimit:
    """Refuse limits that cannot mean anything; returns the limit for chaining."""
    if limit.rate_per_second is None and limit.quota is None and limit.concurrency is None:
        raise ValueError("a limit needs at least one of rate, quota, concurrency")
    if limit.burst is not None and (limit.rate_per_second is None or limit.burst < 1):
        raise ValueError("burst needs a rate and must be at least 1")
    if limit.quota is not None:
        if limit.quota < 1:
            raise ValueError("quota must be at least 1")
        if limit.quota_period not in QUOTA_PERIODS:
            raise ValueError(f"quota needs 'per': one of {', '.join(QUOTA_PERIODS)}")
    elif limit.quota_period is not None:
        raise ValueError("'per' needs a quota")
    if limit.concurrency is not None and limit.concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if limit.rate_per_second is not None and not MIN_RATE <= limit.rate_per_second <= MAX_RATE:
        raise ValueError(f"rate must be between 1/86400 and {MAX_RATE:,.0f} per second")
    for name, value in (("burst", limit.burst), ("quota", limit.quota), ("concurrency", limit.concurrency)):
        if value is not None and value > MAX_COUNT:
            raise ValueError(f"{name} must be at most {MAX_COUNT:,}")
    return limit
