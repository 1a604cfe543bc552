"""The gateway's traffic stage: find the limits of a route, admit or refuse, advertise what is left.

Runs after authorisation (a caller with no grant learns nothing about limits) and before the body is read (a
refused call costs no upload). A route without limits costs two dict lookups. A refusal is a Problem like any
other, so it is audited and counted; admitted calls carry the IETF RateLimit headers
(draft-ietf-httpapi-ratelimit-headers) and hold their concurrency slots until the response has been sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import structlog

from lgsp import metrics
from lgsp.problems import Problem
from lgsp.traffic.backends import BackendUnavailable, TrafficBackend
from lgsp.traffic.decision import Check, LimitState, QuotaCheck, RateCheck, SlotCheck, retry_after_header, whole_seconds
from registry.traffic_policy import ALL_CALLERS, EACH_CLIENT, TrafficLimit, quota_window

_log = structlog.get_logger("lgsp.traffic")


@dataclass
class Ticket:
    """What an admitted call carries: headers for its response and slots to give back."""

    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    held: list[tuple[str, str]] = field(default_factory=list)


class _Windows:
    """Quota windows per period, recomputed only when the current one ends (calendar maths is slow)."""

    def __init__(self) -> None:
        self._current: dict[str, tuple[float, float]] = {}

    def get(self, period: str, now: float) -> tuple[float, float]:
        window = self._current.get(period)
        if window is None or not window[0] <= now < window[1]:
            window = quota_window(period, now)
            self._current[period] = window
        return window


def limits_for(limits: dict[tuple[str, str], TrafficLimit], client_system: str,
               service: str) -> list[TrafficLimit]:
    """The client's own limit (its own row, else the service's per-client default) and the shared one."""
    found = []
    own = limits.get((client_system, service)) or limits.get((EACH_CLIENT, service))
    if own is not None:
        found.append(own)
    shared = limits.get((ALL_CALLERS, service))
    if shared is not None:
        found.append(shared)
    return found


class TrafficLimiter:
    def __init__(self, backend: TrafficBackend, *, fail_open_rates: bool, fail_open_quotas: bool,
                 slot_margin_seconds: float = 30.0) -> None:
        self.backend = backend
        self.fail_open_rates = fail_open_rates
        self.fail_open_quotas = fail_open_quotas
        self.slot_margin_seconds = slot_margin_seconds
        self._windows = _Windows()

    def checks(self, limits: list[TrafficLimit], client_system: str, now: float,
               slot_ttl: float = 60.0) -> list[Check]:
        checks: list[Check] = []
        for limit in limits:
            scope = limit.counter_scope(client_system)
            prefix = f"{limit.service}|{scope}"
            if limit.rate_per_second is not None:
                checks.append(RateCheck(f"lgsp:r:{prefix}", f"{limit.scope_name}-rate",
                                        1.0 / limit.rate_per_second, limit.effective_burst))
            if limit.quota is not None and limit.quota_period is not None:
                start, end = self._windows.get(limit.quota_period, now)
                checks.append(QuotaCheck(f"lgsp:q:{limit.quota_period}:{int(start)}:{prefix}",
                                         f"{limit.scope_name}-{limit.quota_period}", limit.quota, end - start, end))
            if limit.concurrency is not None:
                checks.append(SlotCheck(f"lgsp:c:{prefix}", f"{limit.scope_name}-concurrency", limit.concurrency,
                                        slot_ttl))
        return checks

    async def admit(self, limits: list[TrafficLimit], client_system: str, service: str,
                    slot_ttl: float) -> Ticket:
        """Admit the call or raise a 429/503 Problem; `slot_ttl` bounds how long a crashed call holds a slot."""
        now = time.time()
        checks = self.checks(limits, client_system, now, slot_ttl + self.slot_margin_seconds)
        try:
            verdict = await self.backend.admit(checks, now)
        except BackendUnavailable as exc:
            return self._unavailable(checks, service, exc)
        ticket = Ticket(headers=_headers(checks, verdict.states), held=verdict.held)
        if verdict.admitted:
            return ticket
        refused = verdict.refused_by
        assert refused is not None
        metrics.TRAFFIC_REFUSED.labels(service, refused.name).inc()
        retry = retry_after_header(verdict.retry_after)
        headers = {k.decode(): v.decode() for k, v in ticket.headers}
        headers["Retry-After"] = retry
        if isinstance(refused, SlotCheck):
            raise Problem("concurrency-limited",
                          f"{service} already has {refused.limit} calls in flight for this scope ({refused.name})",
                          headers=headers, limit=refused.name)
        if isinstance(refused, QuotaCheck):
            raise Problem("quota-exceeded", f"the {refused.name} quota of {refused.limit} calls on {service} is used "
                          f"up; it resets in {retry} s", headers=headers, limit=refused.name)
        raise Problem("rate-limited", f"more than the allowed rate on {service} ({refused.name}); retry in {retry} s",
                      headers=headers, limit=refused.name)

    def _unavailable(self, checks: list[Check], service: str, exc: BackendUnavailable) -> Ticket:
        has_quota = any(isinstance(c, QuotaCheck) for c in checks)
        has_other = any(not isinstance(c, QuotaCheck) for c in checks)
        _log.warning("traffic counters unavailable", service=service, error=str(exc))
        if (has_quota and not self.fail_open_quotas) or (has_other and not self.fail_open_rates):
            metrics.TRAFFIC_REFUSED.labels(service, "unavailable").inc()
            raise Problem("limits-unavailable", "the gateway cannot check this route's quota right now",
                          headers={"Retry-After": "5"})
        return Ticket()

    async def release(self, ticket: Ticket) -> None:
        if not ticket.held:
            return
        held, ticket.held = ticket.held, []  # released once, whichever path gets here first
        try:
            await self.backend.release(held)
        except BackendUnavailable as exc:  # the slot frees itself at its expiry
            _log.warning("could not release concurrency slots", error=str(exc))

    async def usage(self, limits: list[TrafficLimit], client_system: str) -> list[tuple[TrafficLimit, LimitState]]:
        now = time.time()
        out: list[tuple[TrafficLimit, LimitState]] = []
        for limit in limits:
            checks = self.checks([limit], client_system, now)
            for state in await self.backend.peek(checks, now):
                out.append((limit, state))
        return out


def _headers(checks: list[Check], states: list[LimitState]) -> list[tuple[bytes, bytes]]:
    """`RateLimit-Policy` lists every time-window limit of the route; `RateLimit` what is left of each."""
    policy = []
    for check in checks:
        if isinstance(check, RateCheck):
            policy.append(f'"{check.name}";q={check.burst};w={max(1, round(check.capacity))}')
        elif isinstance(check, QuotaCheck):
            policy.append(f'"{check.name}";q={check.limit};w={round(check.window_seconds)}')
    if not policy:
        return []
    left = [f'"{s.name}";r={s.remaining};t={whole_seconds(s.reset_seconds)}' for s in states
            if not s.name.endswith("-concurrency")]
    headers = [(b"ratelimit-policy", ", ".join(policy).encode())]
    if left:
        headers.append((b"ratelimit", ", ".join(left).encode()))
    return headers
