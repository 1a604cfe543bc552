"""A refusal's RateLimit ``t`` and its Retry-After say the same thing.

Before: ``t`` was rounded to the nearest second and Retry-After rounded up, so a call refused 0.4 s before the
next one would be admitted answered ``"client-rate";r=0;t=0`` with ``Retry-After: 1``: the header told a client
to retry at once, into another refusal.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgsp.problems import Problem
from lgsp.traffic import limiter as limiter_module
from lgsp.traffic.backends import MemoryBackend
from lgsp.traffic.limiter import TrafficLimiter
from lgsp.traffic.policy import TrafficLimit


def _t_of(headers: dict[str, str], name: str) -> int:
    for item in headers["ratelimit"].split(","):
        label, *params = item.strip().split(";")
        if label.strip('"') == name:
            return int(dict(p.split("=", 1) for p in params)["t"])
    raise AssertionError(f"{name} missing from {headers['ratelimit']}")


def _refusal(limit: TrafficLimit, times: list[float], monkeypatch: pytest.MonkeyPatch) -> list[Problem]:
    limiter = TrafficLimiter(MemoryBackend(), fail_open_rates=True, fail_open_quotas=False)
    refusals: list[Problem] = []

    async def go() -> None:
        for now in times:
            monkeypatch.setattr(limiter_module.time, "time", lambda now=now: now)
            try:
                await limiter.admit([limit], "sys", "svc", slot_ttl=10)
            except Problem as problem:
                refusals.append(problem)
    asyncio.run(go())
    return refusals


def test_a_refusal_just_before_the_next_admission(monkeypatch: pytest.MonkeyPatch) -> None:
    refused = _refusal(TrafficLimit("svc", "*", rate_per_second=1.0, burst=1), [1000.0, 1000.6], monkeypatch)
    assert len(refused) == 1
    assert refused[0].headers["Retry-After"] == "1" and _t_of(refused[0].headers, "client-rate") == 1


@settings(max_examples=60, derandomize=True, deadline=None, database=None)
@given(rate=st.floats(0.01, 50), burst=st.integers(1, 4),
       gaps=st.lists(st.floats(0, 3, allow_nan=False), min_size=2, max_size=12))
def test_t_and_retry_after_agree_on_every_refusal(rate: float, burst: int, gaps: list[float]) -> None:
    times, now = [], 1_000_000.0
    for gap in gaps:
        now += gap
        times.append(now)
    with pytest.MonkeyPatch.context() as monkeypatch:
        refusals = _refusal(TrafficLimit("svc", "*", rate_per_second=rate, burst=burst), times, monkeypatch)
    for problem in refusals:
        assert max(1, _t_of(problem.headers, "client-rate")) == int(problem.headers["Retry-After"])
