"""Traffic limits: the CPU an active limit adds per call, per backend, and Redis round trips per call.

Usage: .venv/bin/python bench/ratelimit.py [--calls 50000] [--gateway-seconds 5]

(1) The gateway's traffic stage, in-process, for a route without limits (the baseline: two dict lookups) and
with an active rate + daily quota (admitted every time, so the full path runs), on each backend: CPU µs per call
added over the baseline. Target: <= 15 µs with the memory backend.
(2) Redis: round trips per admitted call (EVALSHA count from INFO commandstats): target 1.
(3) End to end: `lgsp serve` throughput on a route with an active limit (memory backend) vs the same route
without, same run; the last line is one JSON object whose `ratio` is limited_rps / unlimited_rps.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.traffic.backends import MemoryBackend, RedisBackend, StoreBackend, TrafficBackend
from lgsp.traffic.limiter import TrafficLimiter, limits_for
from lgsp.traffic.policy import TrafficLimit

SERVICE = "000.00.25.H10/QUANTRAC/chat-luong-khong-khi"
CLIENT = "000.00.12.H10/MOTCUA"


def stage_cpu_us(backend: TrafficBackend, calls: int, limited: bool) -> float:
    """CPU µs per call of what `pipeline.admit_traffic` does, with or without a limit on the route."""
    limit = TrafficLimit(SERVICE, "*", rate_per_second=1e9, burst=10**9, quota=10**12, quota_period="day")
    limits = {("*", SERVICE): limit} if limited else {("*", "other/service/x"): limit}
    limiter = TrafficLimiter(backend, fail_open_rates=True, fail_open_quotas=False)

    async def run() -> float:
        start = time.process_time()
        for _ in range(calls):
            found = limits_for(limits, CLIENT, SERVICE)
            if found:
                await limiter.admit(found, CLIENT, SERVICE, 30.0)
        return time.process_time() - start

    return asyncio.run(run()) / calls * 1e6


def redis_commands_per_call(url: str, calls: int) -> tuple[float, float]:
    import redis

    plain = redis.Redis.from_url(url)

    def evalsha_count() -> int:
        stats = plain.info("commandstats")
        return sum(int(v["calls"]) for k, v in stats.items() if k in {"cmdstat_evalsha", "cmdstat_eval"})

    def total_count() -> int:
        return sum(int(v["calls"]) for k, v in plain.info("commandstats").items() if k != "cmdstat_info")

    stage_cpu_us(RedisBackend(url), 50, True)  # loads the script once (a backend per event loop)
    before_total, before_eval = total_count(), evalsha_count()
    wall = time.perf_counter()
    stage_cpu_us(RedisBackend(url), calls, True)
    wall = (time.perf_counter() - wall) / calls * 1e6
    after_total, after_eval = total_count(), evalsha_count()
    inside = (after_total - before_total) - (after_eval - before_eval)
    print(f"redis: {after_eval - before_eval} EVALSHA for {calls} calls; {inside / calls:.1f} commands per call run "
          f"inside the script (no round trip each)")
    return (after_eval - before_eval) / calls, wall


def gateway_ratio(seconds: float) -> dict[str, float]:
    from bench.gateway import lgsp
    from bench.support.harness import free_port, load, start_process, stop_process, uvicorn_cmd

    provider_port = free_port()
    provider = start_process(uvicorn_cmd("bench.support.servers:provider", provider_port),
                             ready_url=f"http://127.0.0.1:{provider_port}/")
    provider_url = f"http://127.0.0.1:{provider_port}"
    try:
        with tempfile.TemporaryDirectory(prefix="lgsp-bench-rl-") as tmp:
            env = {**os.environ, "LGSP_DATABASE_URL": f"sqlite:///{tmp}/bench.db", "LGSP_TRAFFIC_BACKEND": "memory",
                   "LGSP_ACCESS_LOG": "false"}
            limited = f"{SERVICE}-limited"
            Path(tmp, "registry.yaml").write_text(f"""
agencies: [{{code: 000.00.12.H10, name: Cần Thơ}}, {{code: 000.00.25.H10, name: Sở TNMT, parent: 000.00.12.H10}}]
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: 000.00.25.H10/QUANTRAC, name: Quan trắc, client: false, provider: true}}
services:
  - {{id: {SERVICE}, name: Open, base_url: "{provider_url}"}}
  - {{id: {limited}, name: Limited, base_url: "{provider_url}"}}
grants: [{{client: {CLIENT}, service: {SERVICE}}}, {{client: {CLIENT}, service: {limited}}}]
limits: [{{service: {limited}, client: "*", rate: 1000000, burst: 1000000000, quota: 1000000000, per: day}}]
""", encoding="utf-8")
            lgsp(["apply", f"{tmp}/registry.yaml"], env)
            cred = json.loads(lgsp(["clients", "create", "--system", CLIENT, "--json"], env))
            port = free_port()
            proc = start_process([sys.executable, "-m", "lgsp.cli", "serve", "--port", str(port)], env=env,
                                 ready_url=f"http://127.0.0.1:{port}/healthz")
            try:
                import httpx

                token = httpx.post(f"http://127.0.0.1:{port}/oauth/token", data={"grant_type": "client_credentials"},
                                   auth=(cred["client_id"], cred["client_secret"])).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                runs: dict[str, list[float]] = {"unlimited": [], "limited": []}
                # interleaved, best of two each: the audit table grows during the run, so order alone would bias
                for name, sid in (("unlimited", SERVICE), ("limited", limited)) * 2:
                    url = f"http://127.0.0.1:{port}/services/{sid}/readings/latest"
                    load(url, seconds=1, connections=32, headers=headers)
                    runs[name].append(load(url, seconds=seconds, connections=32, headers=headers).rps)
                return {name: max(values) for name, values in runs.items()}
            finally:
                stop_process(proc)
    finally:
        stop_process(provider)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--gateway-seconds", type=float, default=5)
    parser.add_argument("--redis-url", default=os.environ.get("LGSP_REDIS_URL", "redis://127.0.0.1:6379/0"))
    opts = parser.parse_args()

    baseline = stage_cpu_us(MemoryBackend(), opts.calls, False)
    rows = {"memory": stage_cpu_us(MemoryBackend(), opts.calls, True) - baseline}
    with tempfile.TemporaryDirectory(prefix="lgsp-bench-rl-") as tmp:
        engine = make_engine(f"sqlite:///{tmp}/counters.db")
        upgrade(engine)
        rows["store (SQLite)"] = stage_cpu_us(StoreBackend(engine), max(opts.calls // 25, 200), True) - baseline
        engine.dispose()
    figures: dict[str, object] = {"baseline_cpu_us": round(baseline, 3)}
    commands = redis_us = None
    try:
        commands, redis_us = redis_commands_per_call(opts.redis_url, max(opts.calls // 10, 500))
        rows["redis"] = stage_cpu_us(RedisBackend(opts.redis_url), max(opts.calls // 10, 500), True) - baseline
    except Exception as exc:  # Redis absent: report, do not fail the whole bench
        print(f"redis: skipped ({type(exc).__name__}: {exc})")
    print("added CPU per call of an active limit (rate + daily quota), over a route without limits:")
    for name, us in rows.items():
        print(f"  {name:<16} {us:8.2f} µs")
    if commands is not None:
        print(f"redis: {commands:.2f} round trips per call (target <= 1), {redis_us:.1f} µs wall per call")
    gateway = gateway_ratio(opts.gateway_seconds)
    print(f"gateway: {gateway['unlimited']:.0f} req/s without a limit, {gateway['limited']:.0f} req/s with an "
          f"active limit (memory backend)")
    figures.update({f"added_cpu_us_{k.split()[0]}": round(v, 2) for k, v in rows.items()})
    figures.update({"memory_target_us": 15, "memory_meets_target": rows["memory"] <= 15,
                    "redis_round_trips_per_call": commands, "gateway_unlimited_rps": round(gateway["unlimited"], 1),
                    "gateway_limited_rps": round(gateway["limited"], 1),
                    "ratio": round(gateway["limited"] / gateway["unlimited"], 3)})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
