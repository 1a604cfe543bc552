"""The admission rule, as a pure function over counter values, shared by the memory and store backends.

A call is checked against every limit of its route at once and admitted only if all admit it; a refused call
changes no counter (so a call refused by a quota does not use up rate, and one refused by the rate does not
use up the quota). Redis runs the same rule in one Lua script (`backends.redis_backend`).

Rates use GCRA (the generic cell rate algorithm, as in ATM networks and most modern limiters): one stored
number per key, the theoretical arrival time `tat`. With emission interval T = 1/rate and a burst of b, a call
at `now` is admitted when max(tat, now) + T - now <= b*T. In any window of length W at most b + W*rate calls
are admitted, exactly, whatever the interleaving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RateCheck:
    key: str
    name: str
    interval: float  # seconds between calls at the sustained rate (1 / rate)
    burst: int

    @property
    def capacity(self) -> float:
        return self.burst * self.interval


@dataclass(frozen=True)
class QuotaCheck:
    key: str  # includes the window start, so a new window is a new counter
    name: str
    limit: int
    window_seconds: float
    resets_at: float


@dataclass(frozen=True)
class SlotCheck:
    key: str
    name: str
    limit: int
    ttl: float  # a slot left by a crashed process frees itself after this long


Check = RateCheck | QuotaCheck | SlotCheck


@dataclass(frozen=True)
class LimitState:
    """What a client may learn about one limit: for the RateLimit headers and `GET /usage`."""

    name: str
    quota: int
    window_seconds: float
    remaining: int
    reset_seconds: float


@dataclass
class Verdict:
    admitted: bool
    refused_by: Check | None = None
    retry_after: float = 0.0
    #: key -> (new value, expires at) for counters to write when admitted.
    updates: dict[str, tuple[float, float]] = field(default_factory=dict)
    slots: list[SlotCheck] = field(default_factory=list)
    states: list[LimitState] = field(default_factory=list)
    #: (key, token) of each concurrency slot taken; released when the call ends.
    held: list[tuple[str, str]] = field(default_factory=list)


def decide(checks: list[Check], counters: dict[str, float], slots_in_use: dict[str, int], now: float) -> Verdict:
    """Admit or refuse one call; `counters` maps keys to stored values (absent = fresh)."""
    verdict = Verdict(admitted=True)
    for check in checks:
        if isinstance(check, RateCheck):
            tat = max(counters.get(check.key, now), now)
            new_tat = tat + check.interval
            if new_tat - now > check.capacity + 1e-9:
                return _refuse(check, new_tat - check.capacity - now, verdict)
            verdict.updates[check.key] = (new_tat, new_tat)
            remaining = int((check.capacity - (new_tat - now)) / check.interval + 1e-9)
            verdict.states.append(LimitState(check.name, check.burst, check.capacity, remaining, new_tat - now))
        elif isinstance(check, QuotaCheck):
            used = int(counters.get(check.key, 0))
            if used >= check.limit:
                return _refuse(check, check.resets_at - now, verdict)
            verdict.updates[check.key] = (used + 1, check.resets_at)
            verdict.states.append(LimitState(check.name, check.limit, check.window_seconds,
                                             check.limit - used - 1, check.resets_at - now))
        else:
            if slots_in_use.get(check.key, 0) >= check.limit:
                return _refuse(check, 1.0, verdict)
            verdict.slots.append(check)
    return verdict


def describe(checks: list[Check], counters: dict[str, float], slots_in_use: dict[str, int],
             now: float) -> list[LimitState]:
    """The state of each limit without taking anything (for `GET /usage`)."""
    states = []
    for check in checks:
        if isinstance(check, RateCheck):
            ahead = max(counters.get(check.key, now) - now, 0.0)
            remaining = int((check.capacity - ahead) / check.interval + 1e-9)
            states.append(LimitState(check.name, check.burst, check.capacity, max(remaining, 0), ahead))
        elif isinstance(check, QuotaCheck):
            used = int(counters.get(check.key, 0))
            states.append(LimitState(check.name, check.limit, check.window_seconds, max(check.limit - used, 0),
                                     check.resets_at - now))
        else:
            in_use = slots_in_use.get(check.key, 0)
            states.append(LimitState(check.name, check.limit, 0.0, max(check.limit - in_use, 0), 0.0))
    return states


def _refuse(check: Check, retry_after: float, verdict: Verdict) -> Verdict:
    verdict.admitted = False
    verdict.refused_by = check
    verdict.retry_after = max(retry_after, 0.0)
    verdict.updates = {}
    verdict.slots = []
    if isinstance(check, RateCheck | QuotaCheck):
        quota = check.burst if isinstance(check, RateCheck) else check.limit
        window = check.capacity if isinstance(check, RateCheck) else check.window_seconds
        verdict.states.append(LimitState(check.name, quota, window, 0, verdict.retry_after))
    return verdict


def whole_seconds(seconds: float) -> int:
    """Seconds rounded up (never promise a limit back before it is): the RateLimit ``t`` and Retry-After."""
    return max(0, math.ceil(seconds - 1e-6))


def retry_after_header(seconds: float) -> str:
    """Whole seconds, at least 1 (RFC 9110 §10.2.3 delay-seconds), rounded like the RateLimit ``t``."""
    return str(max(1, whole_seconds(seconds)))
