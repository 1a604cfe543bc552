"""Gateway cost per call: direct vs bare reverse proxy (the Python ceiling) vs lgsp, in one run.

Usage: .venv/bin/python bench/gateway.py [--seconds 8] [--connections 50] [--rounds 3] [--tool auto|wrk|python]
       [--no-pin] [--no-workers2] [--no-postgres] [--baseline-tree DIR]

The headline is **server CPU per request**: user+sys CPU of the server's processes (read from /proc/<pid>/stat
before and after each load) divided by the requests it served, for the bare proxy and for lgsp, and
``ratio`` = bare µs / lgsp µs (1.0 = lgsp costs no more than the bare proxy). CPU per call is what a
2-core machine shared with the load generator can measure honestly; req/s is reported too (``rps_ratio``).

Pinning (default when taskset exists and there are >= 2 cores): the server under test on core 0, the
provider and the load generator on core 1 — so the server's core is its own, as far as this machine allows.
The load generator is wrk (Debian package, ``scripts/ensure-wrk.sh``; one thread) or, with ``--tool python``
(or without wrk), a small aiohttp client running in this process.

Bare proxy and lgsp run side by side and are loaded alternately, ``--rounds`` times; the figures are medians
over rounds. Both run the loop-lag monitor (``lgsp.looplag``: a task sleeping 1 ms that records its
overshoot), and the longest stall during the measured loads is reported (``*_max_stall_ms``).

lgsp runs as `lgsp serve` on its embedded default store (SQLite, WAL) with token check, grant check,
one durable audit row per call, metrics and the JSON access log (sent to /dev/null). Last line: one JSON object.

``--baseline-tree DIR`` also runs an lgsp from that checkout's code (same virtualenv), loaded in the same
rounds as the other two, and reports ``vs_baseline`` = baseline lgsp µs / this lgsp µs (> 1: this tree is
cheaper): a before/after ratio that shares the machine's load of the moment.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support.harness import (
    LoadResult,
    free_port,
    group_cpu_seconds,
    load,
    load_average,
    pinned,
    start_process,
    stop_process,
    uvicorn_cmd,
)
from lgsp.looplag import worst_stall_ms

SERVICE = "000.00.25.H10/QUANTRAC/chat-luong-khong-khi"
CLIENT = "000.00.12.H10/MOTCUA"


def registry_file(provider_url: str) -> str:
    return f"""
agencies:
  - {{code: 000.00.12.H10, name: UBND thành phố Cần Thơ}}
  - {{code: 000.00.25.H10, name: Sở Tài nguyên và Môi trường, parent: 000.00.12.H10}}
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: 000.00.25.H10/QUANTRAC, name: Quan trắc, client: false, provider: true}}
services:
  - {{id: {SERVICE}, name: Chất lượng không khí, base_url: "{provider_url}", idempotent_methods: [GET]}}
grants:
  - {{client: {CLIENT}, service: {SERVICE}, methods: [GET]}}
"""


def lgsp(args: list[str], env: dict[str, str], cwd: str | None = None) -> str:
    return subprocess.run([sys.executable, "-m", "lgsp.cli", *args], env=env, capture_output=True, text=True,
                          check=True, cwd=cwd).stdout


@dataclass
class Target:
    """One server under load: its process group, URL, headers and the figures of each round."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    lag_glob: str | None = None
    results: list[LoadResult] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)
    max_stall_ms: float | None = None

    def run(self, seconds: float, connections: int, tool: str, cpus: str | None) -> None:
        before, started = group_cpu_seconds(self.proc.pid), time.time()
        result = load(self.url, seconds=seconds, connections=connections, headers=self.headers, tool=tool, cpus=cpus)
        after, ended = group_cpu_seconds(self.proc.pid), time.time()
        self.results.append(result)
        self.cpu_us.append((after - before) * 1e6 / max(result.requests, 1))
        self.windows.append((started + 1, ended - 1))  # whole seconds inside the load

    def stop(self, workdir: Path) -> None:
        stop_process(self.proc)
        if self.lag_glob:
            stalls = [worst_stall_ms(str(path), start, end) for path in workdir.glob(self.lag_glob)
                      for start, end in self.windows]
            self.max_stall_ms = max((s for s in stalls if s is not None), default=None)

    def median(self, attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in self.results))


def start_lgsp(provider_url: str, workers: int, workdir: Path, cpus: str | None,
               database_url: str | None = None, *, name: str | None = None,
               extra_env: dict[str, str] | None = None, tree: str | None = None) -> Target:
    """`lgsp serve` with its own SQLite database (or ``database_url``), registry and client, ready to call.

    ``extra_env`` is added to its environment (settings); ``tree`` runs another checkout's lgsp code (its
    directory first on sys.path, with this checkout's virtualenv), for before/after runs side by side.
    """
    name = name or f"lgsp-{workers}{'-pg' if database_url else ''}"
    env = {**os.environ, "LGSP_DATABASE_URL": database_url or f"sqlite:///{workdir / f'{name}.db'}",
           "LGSP_LOOP_LAG_FILE": str(workdir / f"lag-{name}-{{pid}}.jsonl"), **(extra_env or {})}
    if tree:
        env["PYTHONPATH"] = tree
    (workdir / "registry.yaml").write_text(registry_file(provider_url), encoding="utf-8")
    lgsp(["apply", str(workdir / "registry.yaml")], env, tree)
    cred = json.loads(lgsp(["clients", "create", "--system", CLIENT, "--json"], env, tree))
    port = free_port()
    proc = start_process(pinned([sys.executable, "-m", "lgsp.cli", "serve", "--port", str(port), "--workers",
                                 str(workers)], cpus), env=env, ready_url=f"http://127.0.0.1:{port}/healthz",
                         cwd=tree)
    import base64
    import urllib.request

    basic = base64.b64encode(f"{cred['client_id']}:{cred['client_secret']}".encode()).decode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/oauth/token", data=b"grant_type=client_credentials",
                                     headers={"Authorization": f"Basic {basic}",
                                              "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request) as response:
        token = json.loads(response.read())["access_token"]
    return Target(name, proc, f"http://127.0.0.1:{port}/services/{SERVICE}/readings/latest",
                  {"Authorization": f"Bearer {token}"}, f"lag-{name}-*.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/lgsp loads; medians are reported")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server / generator to cores")
    parser.add_argument("--no-workers2", action="store_true", help="skip the lgsp --workers 2 runs")
    parser.add_argument("--no-postgres", action="store_true", help="skip the run on PostgreSQL (127.0.0.1:5432)")
    parser.add_argument("--baseline-tree", metavar="DIR", help="also run an lgsp from this checkout's code")
    opts = parser.parse_args()
    pin = not opts.no_pin and (os.cpu_count() or 1) >= 2
    server_cpus, other_cpus = ("0", "1") if pin else (None, None)
    tool = opts.tool
    if pin and tool != "wrk" and not (tool == "auto" and _have_wrk()):
        os.sched_setaffinity(0, {1})  # the Python generator runs here
    uptime = load_average()

    provider_port, proxy_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="lgsp-bench-") as tmp:
        workdir = Path(tmp)
        provider = start_process(pinned(uvicorn_cmd("bench.support.servers:provider", provider_port), other_cpus),
                                 ready_url=f"http://127.0.0.1:{provider_port}/")
        provider_url = f"http://127.0.0.1:{provider_port}"
        targets: list[Target] = []
        try:
            direct = Target("direct", provider, provider_url + "/readings/latest")
            bare = Target("bare", start_process(
                pinned(uvicorn_cmd("bench.support.servers:bare_proxy", proxy_port), server_cpus),
                env={"BENCH_UPSTREAM": provider_url, "BENCH_LOOP_LAG": str(workdir / "lag-bare-{pid}.jsonl")},
                ready_url=f"http://127.0.0.1:{proxy_port}/"), f"http://127.0.0.1:{proxy_port}/readings/latest",
                lag_glob="lag-bare-*.jsonl")
            one = start_lgsp(provider_url, 1, workdir, server_cpus)
            targets += [bare, one]
            base = None
            if opts.baseline_tree:
                base = start_lgsp(provider_url, 1, workdir, server_cpus, name="lgsp-baseline", tree=opts.baseline_tree)
                targets.append(base)
            measured = [t for t in (bare, one, base) if t is not None]
            for target in (direct, *measured):  # warm-up
                load(target.url, seconds=1, connections=opts.connections, headers=target.headers, tool=tool,
                     cpus=other_cpus)
            direct.run(opts.seconds, opts.connections, tool, other_cpus)
            for _ in range(opts.rounds):
                for target in measured:
                    target.run(opts.seconds, opts.connections, tool, other_cpus)
            for target in measured:
                target.stop(workdir)
            extra: list[Target] = []
            if not opts.no_workers2:  # both cores for the server: no pinning here
                two = start_lgsp(provider_url, 2, workdir, None)
                targets.append(two)
                load(two.url, seconds=1, connections=opts.connections, headers=two.headers, tool=tool)
                two.run(opts.seconds, opts.connections, tool, None)
                two.stop(workdir)
                extra.append(two)
                if not opts.no_postgres:
                    from lgsp.testing.postgres import create_database, drop_database

                    url = create_database("lgsp_bench")
                    try:
                        two_pg = start_lgsp(provider_url, 2, workdir, None, url)
                        targets.append(two_pg)
                        load(two_pg.url, seconds=1, connections=opts.connections, headers=two_pg.headers, tool=tool)
                        two_pg.run(opts.seconds, opts.connections, tool, None)
                        two_pg.stop(workdir)
                        extra.append(two_pg)
                    finally:
                        drop_database(url)
        finally:
            for target in targets:
                if target.proc.poll() is None:
                    stop_process(target.proc)
            stop_process(provider)
    used = direct.results[0].tool
    print(f"load generator: {used}, {opts.connections} connections, {opts.seconds:g} s per load, "
          f"{opts.rounds} rounds; {'server on core 0, provider + generator on core 1' if pin else 'no pinning'}; "
          f"{os.cpu_count()} cores; load average at start {uptime}")
    print(f"{'target':<28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11} {'max stall ms':>13} "
          f"{'errors':>7}")
    for target in (direct, bare, one, *([base] if base else []), *extra):
        cpu = f"{statistics.median(target.cpu_us):.0f}" if target is not direct else "-"
        stall = f"{target.max_stall_ms:.1f}" if target.max_stall_ms is not None else "-"
        print(f"{target.name:<28} {target.median('rps'):>8.0f} {target.median('p50_ms'):>8.2f} "
              f"{target.median('p99_ms'):>8.2f} {cpu:>11} {stall:>13} {sum(r.errors for r in target.results):>7}")
    bare_cpu, one_cpu = statistics.median(bare.cpu_us), statistics.median(one.cpu_us)
    figures = {
        "ratio": round(bare_cpu / one_cpu, 3),
        "ratio_meaning": "bare proxy server CPU µs per request / lgsp's (median of rounds)",
        "bare_cpu_us_per_req": round(bare_cpu, 1), "lgsp_cpu_us_per_req": round(one_cpu, 1),
        "bare_cpu_us_rounds": [round(v, 1) for v in bare.cpu_us],
        "lgsp_cpu_us_rounds": [round(v, 1) for v in one.cpu_us],
        "rps_ratio": round(one.median("rps") / bare.median("rps"), 3),
        "direct_rps": round(direct.median("rps"), 1), "bare_proxy_rps": round(bare.median("rps"), 1),
        "lgsp_rps": round(one.median("rps"), 1), "direct_p99_ms": round(direct.median("p99_ms"), 3),
        "bare_proxy_p99_ms": round(bare.median("p99_ms"), 3), "lgsp_p99_ms": round(one.median("p99_ms"), 3),
        "p99_vs_bare": round(one.median("p99_ms") / bare.median("p99_ms"), 2),
        "bare_max_stall_ms": bare.max_stall_ms, "lgsp_max_stall_ms": one.max_stall_ms,
        "tool": used, "pinned": pin, "load_average": uptime,
        "errors": sum(r.errors for t in (direct, *measured, *extra) for r in t.results),
    }
    if base is not None:
        base_cpu = statistics.median(base.cpu_us)
        figures["baseline_tree"] = opts.baseline_tree
        figures["baseline_cpu_us_per_req"] = round(base_cpu, 1)
        figures["baseline_cpu_us_rounds"] = [round(v, 1) for v in base.cpu_us]
        figures["baseline_ratio"] = round(bare_cpu / base_cpu, 3)
        figures["vs_baseline"] = round(base_cpu / one_cpu, 3)
        figures["baseline_rps"] = round(base.median("rps"), 1)
        figures["baseline_p99_ms"] = round(base.median("p99_ms"), 3)
    for target in extra:
        key = "lgsp_workers2_postgres" if target.name.endswith("-pg") else "lgsp_workers2"
        figures[f"{key}_rps"] = round(target.median("rps"), 1)
        figures[f"{key}_p99_ms"] = round(target.median("p99_ms"), 3)
        figures[f"{key}_cpu_us_per_req"] = round(statistics.median(target.cpu_us), 1)
    print(json.dumps(figures, ensure_ascii=False))


def _have_wrk() -> bool:
    import shutil

    return shutil.which("wrk") is not None




if __name__ == "__main__":
    main()
