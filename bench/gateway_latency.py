"""Latency the gateway adds at a fixed, moderate rate (issue 14.2: at 500 req/s, added p99 vs direct ≤ 1.5 ms).

Usage: .venv/bin/python bench/gateway_latency.py [--rate 500] [--seconds 10] [--rounds 3] [--no-pin]

Saturation figures (bench/gateway.py) say how much a server can take; this says what one caller feels when
the gateway is not overloaded. The load is **open-loop**: request *i* is due at ``start + i / rate`` whatever
happened to earlier ones, and its latency runs from when it was due, not from when it was sent — so a stall
in the server (or in the generator) shows up in the figures instead of silently lowering the rate
(coordinated omission). The generator is a small aiohttp client in this process; it costs the same for every
target, so the *difference* to the direct call is the gateway's share.

Targets, loaded alternately ``--rounds`` times: the provider directly, the bare reverse proxy
(bench/support/servers.py) and `lgsp serve` (1 worker, SQLite, full policy: token, grant, audit row,
metrics, access log), each proxy pinned to core 0 and provider + generator to core 1 when there are two.

Last line: one JSON object; ``ratio`` = 1.5 ms / lgsp's added p99 (≥ 1.0 means the target is met).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gateway import start_lgsp
from bench.support.harness import free_port, pinned, start_process, stop_process, uvicorn_cmd

TARGET_ADDED_P99_MS = 1.5


@dataclass
class Paced:
    """Latencies (ms, from each request's due time) of one open-loop run, and what went wrong."""

    latencies_ms: list[float]
    errors: int
    late_starts: int  # requests the generator itself sent > 1 ms after their due time

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def paced_load(url: str, headers: dict[str, str], rate: float, seconds: float,
                     connections: int = 64) -> Paced:
    """Send ``rate`` requests per second for ``seconds``, each at its due time, over a pooled connector."""
    latencies: list[float] = []
    errors = late = 0
    interval = 1.0 / rate

    async def one(session: aiohttp.ClientSession, due: float) -> None:
        nonlocal errors, late
        if time.perf_counter() - due > 0.001:
            late += 1
        try:
            async with session.get(url, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
        except aiohttp.ClientError:
            errors += 1
        latencies.append((time.perf_counter() - due) * 1000)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter() + 0.05
        total = int(rate * seconds)
        for i in range(total):
            due = start + i * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(session, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    return Paced(latencies, errors, late)


@dataclass
class Subject:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    runs: list[Paced] = field(default_factory=list)

    def median(self, q: float) -> float:
        return float(statistics.median(run.percentile(q) for run in self.runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-pin", action="store_true")
    opts = parser.parse_args()
    pin = not opts.no_pin and (os.cpu_count() or 1) >= 2
    server_cpus, other_cpus = ("0", "1") if pin else (None, None)
    if pin:
        os.sched_setaffinity(0, {1})
    with open("/proc/loadavg", encoding="ascii") as loadavg:
        load_average = " ".join(loadavg.read().split()[:3])

    provider_port, proxy_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="lgsp-bench-latency-") as tmp:
        workdir = Path(tmp)
        provider = start_process(pinned(uvicorn_cmd("bench.support.servers:provider", provider_port), other_cpus),
                                 ready_url=f"http://127.0.0.1:{provider_port}/")
        provider_url = f"http://127.0.0.1:{provider_port}"
        procs = [provider]
        try:
            bare_proc = start_process(pinned(uvicorn_cmd("bench.support.servers:bare_proxy", proxy_port), server_cpus),
                                      env={"BENCH_UPSTREAM": provider_url}, ready_url=f"http://127.0.0.1:{proxy_port}/")
            procs.append(bare_proc)
            lgsp = start_lgsp(provider_url, 1, workdir, server_cpus)
            procs.append(lgsp.proc)
            subjects = [Subject("direct", provider_url + "/readings/latest"),
                        Subject("bare proxy", f"http://127.0.0.1:{proxy_port}/readings/latest"),
                        Subject("lgsp", lgsp.url, lgsp.headers)]
            for subject in subjects:  # warm-up: connections, caches, the first audit head
                asyncio.run(paced_load(subject.url, subject.headers, opts.rate, 1.0))
            for _ in range(opts.rounds):
                for subject in subjects:
                    subject.runs.append(asyncio.run(paced_load(subject.url, subject.headers, opts.rate, opts.seconds)))
        finally:
            for proc in procs:
                stop_process(proc)

    direct, bare, gateway = subjects
    print(f"open-loop load at {opts.rate:g} req/s, {opts.seconds:g} s per run, {opts.rounds} rounds (medians); "
          f"{'proxies on core 0, provider + generator on core 1' if pin else 'no pinning'}; "
          f"load average at start {load_average}")
    print(f"{'target':<12} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'added p99':>10} {'errors':>7} {'late':>6}")
    for subject in subjects:
        added = subject.median(0.99) - direct.median(0.99)
        print(f"{subject.name:<12} {subject.median(0.5):>8.2f} {subject.median(0.99):>8.2f} "
              f"{subject.median(0.999):>9.2f} {added:>10.2f} {sum(r.errors for r in subject.runs):>7} "
              f"{sum(r.late_starts for r in subject.runs):>6}")
    added_lgsp = gateway.median(0.99) - direct.median(0.99)
    added_bare = bare.median(0.99) - direct.median(0.99)
    figures = {
        "ratio": round(TARGET_ADDED_P99_MS / max(added_lgsp, 0.001), 3),
        "ratio_meaning": "1.5 ms / lgsp's added p99 at the fixed rate (>= 1 meets issue 14.2)",
        "rate": opts.rate,
        "direct_p99_ms": round(direct.median(0.99), 3), "bare_p99_ms": round(bare.median(0.99), 3),
        "lgsp_p99_ms": round(gateway.median(0.99), 3),
        "lgsp_added_p99_ms": round(added_lgsp, 3), "bare_added_p99_ms": round(added_bare, 3),
        "lgsp_added_p50_ms": round(gateway.median(0.5) - direct.median(0.5), 3),
        "lgsp_p999_ms": round(gateway.median(0.999), 3),
        "errors": sum(r.errors for s in subjects for r in s.runs),
        "late_starts": sum(r.late_starts for s in subjects for r in s.runs),
        "pinned": pin, "load_average": load_average,
    }
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
