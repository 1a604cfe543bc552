"""Each backend applies the same rule, and the shared ones stay exact when several processes race."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import pytest

from lgsp.problems import Problem
from lgsp.store.db import make_engine
from lgsp.testing.postgres import drop_database
from lgsp.traffic.backends import BackendUnavailable, MemoryBackend, RedisBackend, StoreBackend, TrafficBackend
from lgsp.traffic.decision import Check, QuotaCheck, RateCheck, SlotCheck
from lgsp.traffic.limiter import TrafficLimiter
from lgsp.traffic.policy import TrafficLimit
from tests.traffic.conftest import redis_url_or_skip, store_engine, unique_key


async def admitted(backend: TrafficBackend, checks: list[Check], times: list[float]) -> list[bool]:
    return [(await backend.admit(checks, now)).admitted for now in times]


def test_every_backend_gives_the_reference_answers(backend: TrafficBackend) -> None:
    rate = RateCheck(unique_key("r"), "client-rate", interval=0.5, burst=3)
    quota = QuotaCheck(unique_key("q"), "client-day", limit=4, window_seconds=86400, resets_at=2e9)
    times = [1000.0, 1000.0, 1000.0, 1000.0, 1000.5, 1001.0, 1001.0, 1003.0, 1010.0]
    got = asyncio.run(admitted(backend, [rate, quota], times))
    expected = asyncio.run(admitted(MemoryBackend(), [rate, quota], times))
    assert got == expected == [True, True, True, False, True, False, False, False, False]


def test_states_for_headers(backend: TrafficBackend) -> None:
    rate = RateCheck(unique_key("r"), "client-rate", interval=1.0, burst=5)
    quota = QuotaCheck(unique_key("q"), "client-hour", limit=10, window_seconds=3600, resets_at=5000.0)

    async def go() -> None:
        await backend.admit([rate, quota], 1000.0)
        verdict = await backend.admit([rate, quota], 1000.0)
        by_name = {s.name: s for s in verdict.states}
        assert by_name["client-rate"].remaining == 3 and by_name["client-hour"].remaining == 8
        assert by_name["client-hour"].reset_seconds == pytest.approx(4000.0)
        peek = {s.name: s for s in await backend.peek([rate, quota], 1000.0)}
        assert peek["client-rate"].remaining == 3 and peek["client-hour"].remaining == 8
        await backend.close()
    asyncio.run(go())


def test_slots_are_held_until_released(backend: TrafficBackend) -> None:
    slot = SlotCheck(unique_key("c"), "service-concurrency", limit=2, ttl=30)

    async def go() -> None:
        first = await backend.admit([slot], 100.0)
        second = await backend.admit([slot], 100.0)
        third = await backend.admit([slot], 100.0)
        assert first.admitted and second.admitted and not third.admitted
        await backend.release(first.held)
        assert (await backend.admit([slot], 100.0)).admitted
        # a slot abandoned by a crashed process frees itself after its ttl
        assert (await backend.admit([slot], 131.0)).admitted
        await backend.close()
    asyncio.run(go())


def _race(kind: str, url: str, rate_key: str, quota_key: str, attempts: int, out: multiprocessing.Queue) -> None:
    backend: TrafficBackend = RedisBackend(url) if kind == "redis" else StoreBackend(make_engine(url))
    rate = RateCheck(rate_key, "client-rate", interval=3600.0, burst=25)  # 25 at once, then one an hour
    quota = QuotaCheck(quota_key, "client-day", limit=60, window_seconds=86400, resets_at=4e9)

    async def go() -> tuple[int, int]:
        rates = quotas = 0
        for _ in range(attempts):
            rates += (await backend.admit([rate], 1_000_000.0)).admitted
            quotas += (await backend.admit([quota], 1_000_000.0)).admitted
        await backend.close()
        return rates, quotas
    out.put(asyncio.run(go()))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "redis"])
def test_admissions_are_exact_across_processes(kind: str, tmp_path: Path) -> None:
    """Four processes hammer one counter; no more than the limit is ever admitted, and no less."""
    if kind == "redis":
        url, engine = redis_url_or_skip(), None
    else:
        engine, url = store_engine(kind, tmp_path)
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()
    keys = (unique_key("race-r"), unique_key("race-q"))
    workers = [ctx.Process(target=_race, args=(kind, url, *keys, 30, out)) for _ in range(4)]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    assert sum(r for r, _ in results) == 25  # the burst, exactly: 120 attempts
    assert sum(q for _, q in results) == 60  # the quota, exactly
    if engine is not None:
        engine.dispose()
        if kind == "postgresql":
            drop_database(url)


def test_redis_down_fails_open_for_rates_and_closed_for_quotas() -> None:
    backend = RedisBackend("redis://127.0.0.1:1/0", timeout_seconds=0.2)
    limiter = TrafficLimiter(backend, fail_open_rates=True, fail_open_quotas=False)
    rate_only = [TrafficLimit("svc", "*", rate_per_second=1.0)]
    with_quota = [TrafficLimit("svc", "*", rate_per_second=1.0, quota=10, quota_period="day")]

    async def go() -> None:
        ticket = await limiter.admit(rate_only, "sys", "svc", slot_ttl=10)
        assert ticket.headers == []  # admitted, but nothing to advertise
        with pytest.raises(Problem) as refused:
            await limiter.admit(with_quota, "sys", "svc", slot_ttl=10)
        assert refused.value.status == 503 and refused.value.kind == "limits-unavailable"
        strict = TrafficLimiter(backend, fail_open_rates=False, fail_open_quotas=False)
        with pytest.raises(Problem):
            await strict.admit(rate_only, "sys", "svc", slot_ttl=10)
        lenient = TrafficLimiter(backend, fail_open_rates=True, fail_open_quotas=True)
        await lenient.admit(with_quota, "sys", "svc", slot_ttl=10)
        with pytest.raises(BackendUnavailable):
            await backend.admit(limiter.checks(rate_only, "sys", 0.0), 0.0)
    asyncio.run(go())


def test_memory_backend_is_not_shared(tmp_path: Path) -> None:
    """Documented: memory counters are per process; the store's are not."""
    assert not MemoryBackend.exact_across_processes and StoreBackend.exact_across_processes
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert StoreBackend(engine).name == "store"


def test_sweep_removes_only_expired_rows(tmp_path: Path) -> None:
    from lgsp.settings import Settings
    from lgsp.traffic.jobs import traffic_jobs

    engine, _ = store_engine("sqlite", tmp_path)
    backend = StoreBackend(engine)
    old = RateCheck("old", "client-rate", interval=1.0, burst=1)
    fresh = QuotaCheck("fresh", "client-day", limit=5, window_seconds=86400, resets_at=10_000.0)
    slot = SlotCheck("slot", "service-concurrency", limit=1, ttl=5)
    assert backend.admit_sync([old, fresh, slot], 100.0).admitted
    assert backend.sweep(500.0) == 2  # the rate counter (expired at 101) and the slot (105); the quota stays
    assert backend.admit_sync([fresh], 600.0).states[0].remaining == 3  # its count survived the sweep
    jobs = traffic_jobs(engine, Settings.load(database_url="sqlite://", traffic_backend="store"))
    assert [j.name for j in jobs] == ["traffic-sweep"]
    assert traffic_jobs(engine, Settings.load(database_url="sqlite://", traffic_backend="memory")) == []
    engine.dispose()


def test_quota_resets_at_the_vietnam_calendar_boundary(backend: TrafficBackend) -> None:
    """Used up at 23:59:59 in Cần Thơ; available again at 00:00:01, which is 17:00:01 UTC."""
    from datetime import datetime

    from lgsp.traffic.policy import QUOTA_ZONE

    limiter = TrafficLimiter(backend, fail_open_rates=False, fail_open_quotas=False)
    limits = [TrafficLimit(unique_key("svc"), "*", quota=2, quota_period="day")]
    midnight = datetime(2027, 3, 9, tzinfo=QUOTA_ZONE).timestamp()

    async def go() -> list[bool]:
        out = []
        for now in (midnight - 10, midnight - 5, midnight - 1, midnight + 1, midnight + 2, midnight + 3):
            out.append((await backend.admit(limiter.checks(limits, "sys", now), now)).admitted)
        await backend.close()
        return out
    assert asyncio.run(go()) == [True, True, False, True, True, False]
