"""The admission rule and the quota calendar, without any backend."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lgsp.traffic.decision import QuotaCheck, RateCheck, SlotCheck, decide, describe
from lgsp.traffic.policy import QUOTA_ZONE, TrafficLimit, parse_rate, quota_window, validate


def run(checks: list, times: list[float]) -> list[bool]:
    counters: dict[str, float] = {}
    out = []
    for now in times:
        verdict = decide(checks, counters, {}, now)
        if verdict.admitted:
            counters.update({k: v for k, (v, _) in verdict.updates.items()})
        out.append(verdict.admitted)
    return out


def test_gcra_admits_the_burst_then_the_sustained_rate() -> None:
    rate = RateCheck("k", "client-rate", interval=0.5, burst=3)  # 2/s, burst 3
    admitted = run([rate], [0.0] * 5 + [0.49, 0.5, 0.75, 1.0])
    assert admitted == [True, True, True, False, False, False, True, False, True]


def test_refusal_says_when_to_retry_and_changes_nothing() -> None:
    rate = RateCheck("k", "client-rate", interval=1.0, burst=1)
    first = decide([rate], {}, {}, 100.0)
    counters = {"k": first.updates["k"][0]}
    second = decide([rate], counters, {}, 100.25)
    assert not second.admitted and second.refused_by is rate
    assert second.retry_after == pytest.approx(0.75)
    assert second.updates == {} and second.states[-1].remaining == 0


def test_quota_refusal_does_not_spend_the_rate_and_vice_versa() -> None:
    rate = RateCheck("r", "client-rate", interval=10.0, burst=1)
    quota = QuotaCheck("q", "client-day", limit=5, window_seconds=86400, resets_at=1000.0)
    verdict = decide([rate, quota], {"q": 5}, {}, 0.0)
    assert not verdict.admitted and verdict.refused_by is quota and verdict.updates == {}
    verdict = decide([rate, quota], {"r": 20.0}, {}, 0.0)  # rate exhausted: the quota is not touched
    assert not verdict.admitted and verdict.refused_by is rate and "q" not in verdict.updates
    assert verdict.retry_after == pytest.approx(20.0)  # tat 20 + interval 10 - capacity 10


def test_quota_counts_up_to_the_limit() -> None:
    quota = QuotaCheck("q", "client-hour", limit=3, window_seconds=3600, resets_at=3600.0)
    assert run([quota], [1.0, 2.0, 3.0, 4.0]) == [True, True, True, False]
    verdict = decide([quota], {"q": 3}, {}, 10.0)
    assert verdict.retry_after == pytest.approx(3590.0)


def test_concurrency_slots() -> None:
    slot = SlotCheck("c", "service-concurrency", limit=2, ttl=30)
    assert decide([slot], {}, {"c": 1}, 0).admitted
    refused = decide([slot], {}, {"c": 2}, 0)
    assert not refused.admitted and refused.refused_by is slot


def test_describe_does_not_consume() -> None:
    rate = RateCheck("r", "client-rate", interval=1.0, burst=4)
    states = describe([rate], {"r": 102.0}, {}, 100.0)  # two calls ahead of schedule
    assert states[0].remaining == 2 and states[0].reset_seconds == pytest.approx(2.0)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(rate=st.sampled_from([0.5, 1.0, 3.0, 10.0]), burst=st.integers(1, 8),
       gaps=st.lists(st.floats(0, 2.0, allow_nan=False), min_size=1, max_size=120))
def test_no_window_admits_more_than_burst_plus_rate_times_length(rate: float, burst: int, gaps: list[float]) -> None:
    """The guarantee the docs state, for any arrival pattern."""
    times, now = [], 1000.0
    for gap in gaps:
        now += gap
        times.append(now)
    admitted_at = [t for t, ok in zip(times, run([RateCheck("k", "r", 1 / rate, burst)], times), strict=True) if ok]
    for i, start in enumerate(admitted_at):
        for j in range(i, len(admitted_at)):
            length = admitted_at[j] - start
            assert j - i + 1 <= burst + length * rate + 1e-6


def test_quota_windows_follow_vietnam_calendar() -> None:
    # 23:30 on 31 January 2027 in Ho Chi Minh City is 16:30 UTC: still January there.
    now = datetime(2027, 1, 31, 23, 30, tzinfo=QUOTA_ZONE).timestamp()
    start, end = quota_window("month", now)
    assert datetime.fromtimestamp(start, QUOTA_ZONE) == datetime(2027, 1, 1, tzinfo=QUOTA_ZONE)
    assert datetime.fromtimestamp(end, QUOTA_ZONE) == datetime(2027, 2, 1, tzinfo=QUOTA_ZONE)
    day_start, day_end = quota_window("day", now)
    assert day_end - day_start == 86400 and datetime.fromtimestamp(day_start, QUOTA_ZONE).hour == 0
    # the day resets at 17:00 UTC, Vietnam midnight
    assert datetime.utcfromtimestamp(day_end).hour == 17
    dec = datetime(2026, 12, 15, tzinfo=QUOTA_ZONE).timestamp()
    assert datetime.fromtimestamp(quota_window("month", dec)[1], QUOTA_ZONE) == datetime(2027, 1, 1, tzinfo=QUOTA_ZONE)
    hour = quota_window("hour", now)
    assert hour[1] - hour[0] == 3600


@pytest.mark.parametrize(("text", "per_second"), [(20, 20.0), ("20/s", 20.0), ("600/min", 10.0), ("36/h", 0.01),
                                                   ("1.5/s", 1.5)])
def test_rates_parse(text: object, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["fast", "0", -1, "10/day", True, "1/0s"])
def test_bad_rates_are_refused(text: object) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)


@pytest.mark.parametrize("limit", [
    TrafficLimit("s", ""),  # nothing limited
    TrafficLimit("s", "", quota=10),  # quota without a period
    TrafficLimit("s", "", quota=10, quota_period="week"),
    TrafficLimit("s", "", burst=5),  # burst without a rate
    TrafficLimit("s", "", concurrency=0),
])
def test_meaningless_limits_are_refused(limit: TrafficLimit) -> None:
    with pytest.raises(ValueError):
        validate(limit)
