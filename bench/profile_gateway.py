"""Where the CPU of one gateway call goes: cProfile of the full-policy path, in-process, as a text summary.

Builds the gateway (`lgsp.app.create_app`) on a throw-away SQLite store with the bench registry of
``bench/gateway.py``, starts a fixed-response provider (subprocess), then drives ``--calls`` GET calls
through the ASGI app directly (no HTTP server in front, so the profile is the gateway's own work: token
check, grant check, upstream call, audit entry, metrics, access log) with ``--concurrency`` calls in
flight, under cProfile (event-loop thread only: the audit writer's thread shows in the CPU split below).
Writes the summary (top functions by own time and by cumulative time, and CPU per call of the process and
of the loop thread, measured without the profiler) to ``--out``; the last line printed is a JSON object
with ``ratio`` = 300 µs budget of issue 14 / process CPU µs per call (>= 1 meets it). The provider runs
in another process, so this is the gateway's CPU without the HTTP server in front (uvicorn/httptools,
which the bare proxy pays too).

Usage: ``.venv/bin/python bench/profile_gateway.py [--calls 3000] [--concurrency 16] [--out FILE]``
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gateway import CLIENT, SERVICE, lgsp, registry_file
from bench.support.harness import free_port, start_process, stop_process, uvicorn_cmd

BUDGET_US = 300.0
#: CPU µs per call of the last unprofiled drive: the whole process, and the event-loop thread alone
CPU_US: dict[str, float] = {}


async def drive(app: Any, token: str, calls: int, concurrency: int, profiler: cProfile.Profile | None) -> float:
    scope_base = {"type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
                  "path": f"/services/{SERVICE}/readings/latest",
                  "raw_path": f"/services/{SERVICE}/readings/latest".encode(), "query_string": b"",
                  "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"bench"), (b"accept", b"*/*"),
                              (b"authorization", f"Bearer {token}".encode())]}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    remaining = iter(range(calls))

    async def worker() -> None:
        for _ in remaining:
            await app(dict(scope_base), receive, send)

    if profiler is not None:
        profiler.enable()
    started, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    CPU_US.update(process=(time.process_time() - cpu) * 1e6 / calls, loop=(time.thread_time() - loop_cpu) * 1e6 / calls)
    if profiler is not None:
        profiler.disable()
    bad = [s for s in statuses if s != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} calls failed, e.g. status {bad[0]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", default=None, help="summary file (default: print only)")
    args = parser.parse_args()
    port = free_port()
    provider = start_process(uvicorn_cmd("bench.support.servers:provider", port),
                             ready_url=f"http://127.0.0.1:{port}/")
    try:
        with tempfile.TemporaryDirectory(prefix="lgsp-profile-") as tmp:
            workdir = Path(tmp)
            os.environ["LGSP_DATABASE_URL"] = f"sqlite:///{workdir / 'profile.db'}"
            env = dict(os.environ)
            (workdir / "registry.yaml").write_text(registry_file(f"http://127.0.0.1:{port}"), encoding="utf-8")
            lgsp(["apply", str(workdir / "registry.yaml")], env)
            cred = json.loads(lgsp(["clients", "create", "--system", CLIENT, "--json"], env))
            import uvloop  # the event loop lgsp serve runs on (uvicorn --loop uvloop)

            summary, per_call_us, plain_us = uvloop.run(profile(cred, args))
    finally:
        stop_process(provider)
    header = (f"# bench/profile_gateway.py: {args.calls} calls, {args.concurrency} in flight, in-process ASGI, "
              f"SQLite; load average {open('/proc/loadavg', encoding='ascii').read().split()[0]}\n"
              f"# without profiler: {plain_us:.0f} µs wall per call; under cProfile: {per_call_us:.0f} µs\n")
    if args.out:
        Path(args.out).write_text(header + summary, encoding="utf-8")
    else:
        print(header + summary)
    print(json.dumps({"ratio": round(BUDGET_US / CPU_US["process"], 3),
                      "ratio_meaning": "300 µs budget / process CPU µs per call in-process, unprofiled (>= 1 meets)",
                      "cpu_us_per_call": round(CPU_US["process"], 1), "loop_cpu_us_per_call": round(CPU_US["loop"], 1),
                      "wall_us_per_call": round(plain_us, 1), "profiled_wall_us_per_call": round(per_call_us, 1)}))


async def profile(cred: dict[str, Any], args: argparse.Namespace) -> tuple[str, float, float]:
    from lgsp import logs
    from lgsp.app import create_app
    from lgsp.settings import Settings

    settings = Settings.load()
    logs.configure(settings.log_level)
    app = create_app(settings)
    runtime = app.runtime
    await runtime.start()
    if settings.gc_freeze_after_start:  # as `lgsp serve` does after start-up (lgsp.gctune)
        from lgsp import gctune

        gctune.tune_after_startup(settings.gc_gen0_threshold)
    try:
        token, _ = runtime.tokens.issue(cred["client_id"], CLIENT, ["gateway"])
        await drive(app, token, 300, args.concurrency, None)  # warm-up: pools, caches
        plain = await drive(app, token, args.calls, args.concurrency, None)
        cpu = dict(CPU_US)
        profiler = cProfile.Profile()
        elapsed = await drive(app, token, args.calls, args.concurrency, profiler)
    finally:
        await runtime.stop()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs()
    out.write("\n## by own time (tottime)\n")
    stats.sort_stats("tottime").print_stats(35)
    out.write("\n## by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(45)
    out.write(f"\n## CPU per call without profiler: process {cpu['process']:.0f} µs, of which event-loop thread "
              f"{cpu['loop']:.0f} µs and other threads (audit writer, log writer, head signer) "
              f"{cpu['process'] - cpu['loop']:.0f} µs\n")
    CPU_US.update(cpu)
    return out.getvalue(), elapsed * 1e6 / args.calls, plain * 1e6 / args.calls


if __name__ == "__main__":
    main()
