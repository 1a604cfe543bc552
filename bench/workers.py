"""Does `lgsp serve --workers 2` on PostgreSQL scale? One worker vs two, alternately, in one run.

Usage: .venv/bin/python bench/workers.py [--seconds 8] [--connections 50] [--rounds 3]

Both servers run side by side on their own fresh PostgreSQL database (127.0.0.1:5432) with the full policy
path of bench/gateway.py (token, grant, durable audit row, metrics, access log) in front of the bench
provider, and are loaded alternately with wrk. This machine has 2 cores, so the servers may use both,
and the provider and wrk run at the lowest priority (nice 19): whatever CPU the servers want, they get
before the load side does. Per load it records:

- req/s and p99 (wrk), and server CPU µs per request (user+sys of the server's process group / requests):
  equal CPU per request at one and two workers means adding a process costs nothing extra;
- ``lock_wait_share``: the share of 10 ms samples of ``pg_stat_activity`` in which some backend of the
  server's database waited on a lock (the audit sequencer's advisory lock shows as ``Lock/advisory``),
  with the wait events seen, so a serialisation point shows up by name;
- the whole machine's CPU (``/proc/stat``, every process: servers, PostgreSQL backends, provider, wrk)
  per request and the share of all cores busy. On a machine where the load side cannot run elsewhere this
  bounds what two workers can reach: ``ceiling`` = all cores' CPU-seconds / the machine's CPU per request
  at two workers, and ``ceiling_scaling`` = that rate / one worker's measured rate. When
  ``ceiling_scaling`` is below the target, no change to lock or batching can meet it here; only less CPU
  per request (anywhere on the path) or cores for the load side can.

Last line: one JSON object; ``scaling`` = median req/s at two workers / at one (issue 14: >= 1.6).
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench.gateway
from bench.gateway import Target, start_lgsp
from bench.support.harness import free_port, load, load_average, start_process, stop_process, uvicorn_cmd

# Two workers importing lgsp on a busy 2-core machine can take longer than the harness's 30 s default.
bench.gateway.start_process = functools.partial(start_process, timeout=180)  # type: ignore[assignment]


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU-seconds of all cores since boot, from the first line of ``/proc/stat``.

    Busy is everything but idle and iowait (user, nice, system, irq, softirq, steal); guest time is already
    counted in user/nice by the kernel, so it is not added again.
    """
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(v) for v in handle.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    ticks = os.sysconf("SC_CLK_TCK")
    busy = user + nice + system + irq + softirq + steal
    return busy / ticks, (busy + idle + iowait) / ticks


class LockSampler:
    """Polls pg_stat_activity of one database every 10 ms while a load runs."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        self.samples = 0
        self.waiting = 0
        self.events: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.samples = self.waiting = 0
        self.events.clear()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        query = ("SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE datname = current_database() "
                 "AND pid <> pg_backend_pid() AND state = 'active'")
        while not self._stop.wait(0.01):
            rows = self.conn.execute(query).fetchall()
            self.samples += 1
            locked = False
            for kind, event in rows:
                if kind is not None:
                    self.events[f"{kind}/{event}"] += 1
                    locked = locked or kind == "Lock"
            self.waiting += locked

    def stop(self) -> float:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.waiting / max(self.samples, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    from lgsp.testing.postgres import create_database, drop_database

    provider_port = free_port()
    urls = [create_database("lgsp_bench_w1"), create_database("lgsp_bench_w2")]
    shares: dict[str, list[float]] = {"lgsp-1-pg": [], "lgsp-2-pg": []}
    events: dict[str, collections.Counter[str]] = {name: collections.Counter() for name in shares}
    #: per load: (machine CPU µs per request, share of all cores busy)
    machine: dict[str, list[tuple[float, float]]] = {name: [] for name in shares}
    with tempfile.TemporaryDirectory(prefix="lgsp-bench-workers-") as tmp:
        workdir = Path(tmp)
        provider = start_process(["nice", "-n", "19", *uvicorn_cmd("bench.support.servers:provider", provider_port)],
                                 ready_url=f"http://127.0.0.1:{provider_port}/")
        targets: list[Target] = []
        try:
            provider_url = f"http://127.0.0.1:{provider_port}"
            targets = [start_lgsp(provider_url, 1, workdir, None, urls[0]),
                       start_lgsp(provider_url, 2, workdir, None, urls[1])]
            samplers = [LockSampler(url) for url in urls]
            os.nice(19)  # wrk, started from here, inherits the lowest priority; the servers keep theirs
            for target in targets:
                load(target.url, seconds=2, connections=opts.connections, headers=target.headers, tool="wrk")
            for _ in range(opts.rounds):
                for target, sampler in zip(targets, samplers, strict=True):
                    sampler.start()
                    busy_before, total_before = machine_cpu_seconds()
                    target.run(opts.seconds, opts.connections, "wrk", None)
                    busy_after, total_after = machine_cpu_seconds()
                    shares[target.name].append(sampler.stop())
                    busy = busy_after - busy_before
                    machine[target.name].append((busy * 1e6 / max(target.results[-1].requests, 1),
                                                 busy / max(total_after - total_before, 1e-9)))
                    events[target.name].update(sampler.events)
        finally:
            for target in targets:
                if target.proc.poll() is None:
                    stop_process(target.proc)
            stop_process(provider)
            for url in urls:
                drop_database(url)
    loadavg = load_average()
    print(f"{'target':<12} {'req/s (rounds)':<28} {'p99 ms':>8} {'CPU µs/req':>11} {'lock-wait share':>16} "
          f"{'machine µs/req':>15} {'cores busy':>11}")
    figures: dict[str, Any] = {"ratio": 0.0,
                               "ratio_meaning": "--workers 2 / --workers 1 req/s, medians (issue 14.3: >= 1.6)"}
    for target in targets:
        rps = [round(r.rps) for r in target.results]
        print(f"{target.name:<12} {rps!s:<28} {target.median('p99_ms'):>8.1f} "
              f"{statistics.median(target.cpu_us):>11.0f} {statistics.median(shares[target.name]):>16.2f} "
              f"{statistics.median(m for m, _ in machine[target.name]):>15.0f} "
              f"{statistics.median(b for _, b in machine[target.name]):>11.2f}")
        key = target.name.replace("-", "_")
        figures[f"{key}_rps"] = [round(r.rps, 1) for r in target.results]
        figures[f"{key}_cpu_us_per_req"] = [round(v, 1) for v in target.cpu_us]
        figures[f"{key}_p99_ms"] = round(target.median("p99_ms"), 2)
        figures[f"{key}_lock_wait_share"] = [round(v, 3) for v in shares[target.name]]
        figures[f"{key}_wait_events"] = dict(events[target.name].most_common(6))
        figures[f"{key}_machine_cpu_us_per_req"] = [round(m, 1) for m, _ in machine[target.name]]
        figures[f"{key}_cores_busy_share"] = [round(b, 3) for _, b in machine[target.name]]
    one, two = targets
    figures["scaling"] = figures["ratio"] = round(two.median("rps") / one.median("rps"), 3)
    figures["cpu_per_req_2_vs_1"] = round(statistics.median(two.cpu_us) / statistics.median(one.cpu_us), 3)
    cores = os.cpu_count() or 1
    ceiling = cores * 1e6 / statistics.median(m for m, _ in machine[two.name])
    figures["ceiling_rps"] = round(ceiling, 1)
    figures["ceiling_scaling"] = round(ceiling / one.median("rps"), 3)
    figures["ceiling_meaning"] = ("all cores' CPU / the machine's CPU per request at 2 workers, over one worker's "
                                  "req/s: the most two workers could reach here whatever the locking")
    figures["errors"] = sum(r.errors for t in targets for r in t.results)
    figures["load_average_at_end"] = loadavg
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
