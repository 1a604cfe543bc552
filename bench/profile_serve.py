"""Where the CPU of `lgsp serve` goes under wrk: per thread, and (with py-spy) per stage of the loop thread.

Complements ``bench/profile_gateway.py`` (cProfile of the ASGI app in-process) with the served process as
``bench/gateway.py`` runs it: `lgsp serve` on SQLite pinned to core 0, provider and wrk on core 1, one
load of ``--seconds``. Reports server CPU µs per request split into the event-loop thread (user / sys)
and the other threads (audit writer, log writer, executors), read from ``/proc/<pid>/task`` before and
after the load. When ``py-spy`` is on the
PATH (or in the venv; not a project dependency: ``uv pip install py-spy``), it samples the loop thread
while it holds the GIL and the summary attributes each sample to the innermost lgsp function on the stack
(aiohttp work under an lgsp call is labelled as such), so the budget per stage reads top to bottom.

Usage: ``.venv/bin/python bench/profile_serve.py [--seconds 12] [--out FILE] [--baseline-tree DIR]``; needs wrk
(``scripts/ensure-wrk.sh``). Last line: one JSON object with the per-thread figures and ``ratio`` = the
300 µs budget of issue 14 / server CPU µs per request (>= 1 meets it). ``--baseline-tree DIR`` first loads
an lgsp from that checkout's code, then this tree's, both without the sampler (then this tree's again with
it), and reports the per-thread figures of both in the same run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gateway import start_lgsp
from bench.support.harness import free_port, load, load_average, pinned, start_process, stop_process, uvicorn_cmd

BUDGET_US = 300  # issue 14.1: CPU per call on the full-policy path


def thread_ticks(pid: int) -> dict[int, tuple[int, int]]:
    """tid -> (utime, stime) clock ticks of every thread of ``pid``."""
    ticks: dict[int, tuple[int, int]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[int(tid)] = (int(fields[11]), int(fields[12]))
    return ticks


def stage_summary(raw: str, top: int = 40) -> tuple[str, int]:
    """py-spy raw (collapsed) samples of the main thread -> share per innermost lgsp frame."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, number = line.rpartition(" ")
        frames = stack.split(";")
        if not frames or "MainThread" not in frames[0]:
            continue
        samples = int(number)
        total += samples
        ours = [i for i, frame in enumerate(frames) if "lgsp/" in frame or "registry/" in frame]
        if ours:
            inner = re.sub(r":\d+\)", ")", frames[ours[-1]])
            below = frames[ours[-1] + 1:]
            label = f"aiohttp under {inner}" if any("aiohttp/" in f for f in below) else inner
        elif any("uvicorn/" in frame for frame in frames):
            label = "uvicorn/uvloop (server side, outside the app)"
        else:
            label = re.sub(r":\d+\)", ")", frames[-1])
        counts[label] += samples
    lines = [f"{n * 100 / max(total, 1):5.1f}%  {label}" for label, n in counts.most_common(top)]
    return "\n".join(lines), total


def measure(target: Any, seconds: int, connections: int, spy: str | None, tmp: str) -> dict[str, Any]:
    """One load on ``target`` (after a 2 s warm-up): per-thread CPU µs per request and, with ``spy``, the
    py-spy samples of the loop thread (``raw``)."""
    load(target.url, seconds=2, connections=connections, headers=target.headers, cpus="1")
    pid = target.proc.pid  # taskset execs python: same pid, the group leader
    sampler = None
    if spy:
        sampler = subprocess.Popen(pinned([spy, "record", "-p", str(pid), "-d", str(seconds + 1),
                                           "-r", "200", "-f", "raw", "-o", f"{tmp}/spy.txt", "--gil",
                                           "--threads", "--nonblocking"], "1"),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    before = thread_ticks(pid)
    result = load(target.url, seconds=seconds, connections=connections, headers=target.headers, cpus="1")
    after = thread_ticks(pid)
    raw = ""
    if sampler is not None:
        sampler.wait(60)
        raw = Path(f"{tmp}/spy.txt").read_text(encoding="utf-8") if Path(f"{tmp}/spy.txt").exists() else ""
    per_tick = 1e6 / os.sysconf("SC_CLK_TCK") / max(result.requests, 1)
    loop_user = (after.get(pid, (0, 0))[0] - before.get(pid, (0, 0))[0]) * per_tick
    loop_sys = (after.get(pid, (0, 0))[1] - before.get(pid, (0, 0))[1]) * per_tick
    others = sum(u + s - sum(before.get(tid, (0, 0))) for tid, (u, s) in after.items() if tid != pid) * per_tick
    return {"result": result, "loop_user": loop_user, "loop_sys": loop_sys, "others": others, "raw": raw}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--out", default=None)
    parser.add_argument("--baseline-tree", metavar="DIR",
                        help="also load an lgsp from this checkout's code (no py-spy) and report its figures")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or (str(Path(sys.executable).parent / "py-spy")
                                     if (Path(sys.executable).parent / "py-spy").exists() else None)
    port = free_port()
    provider = start_process(pinned(uvicorn_cmd("bench.support.servers:provider", port), "1"),
                             ready_url=f"http://127.0.0.1:{port}/")
    baseline: dict[str, Any] | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="lgsp-profile-serve-") as tmp:
            if args.baseline_tree:  # first, without the sampler: the same load, before/after in one run
                base = start_lgsp(f"http://127.0.0.1:{port}", 1, Path(tmp), "0", name="lgsp-baseline",
                                  tree=args.baseline_tree)
                try:
                    baseline = measure(base, args.seconds, args.connections, None, tmp)
                finally:
                    stop_process(base.proc)
            target = start_lgsp(f"http://127.0.0.1:{port}", 1, Path(tmp), "0")
            try:
                if args.baseline_tree:  # this tree's figures without the sampler too, for the comparison
                    plain = measure(target, args.seconds, args.connections, None, tmp)
                measured = measure(target, args.seconds, args.connections, spy, tmp)
            finally:
                stop_process(target.proc)
    finally:
        stop_process(provider)
    result, loop_user, loop_sys, others, raw = (measured[k] for k in ("result", "loop_user", "loop_sys", "others",
                                                                         "raw"))
    load_avg = load_average()
    cpu_us = loop_user + loop_sys + others
    figures = {"ratio": round(BUDGET_US / cpu_us, 3) if cpu_us else 0.0,
               "ratio_meaning": "300 µs budget of issue 14 / server CPU µs per request under wrk (>= 1 meets)",
               "rps": round(result.rps, 1), "p99_ms": round(result.p99_ms, 2),
               "cpu_us_per_req": round(cpu_us, 1), "loop_user_us": round(loop_user, 1),
               "loop_sys_us": round(loop_sys, 1), "other_threads_us": round(others, 1), "load_average": load_avg}
    text = (f"# bench/profile_serve.py: lgsp serve (SQLite) on core 0, wrk -t1 -c{args.connections} on core 1, "
            f"{args.seconds} s; load average {load_avg}\n"
            f"# {result.rps:.0f} req/s, p99 {result.p99_ms:.1f} ms; server CPU per request "
            f"{figures['cpu_us_per_req']:.0f} µs = event-loop thread {loop_user:.0f} user + {loop_sys:.0f} sys, "
            f"other threads (audit writer, log writer, executors) {others:.0f}\n")
    if baseline is not None:
        for name, run in (("baseline", baseline), ("plain", plain)):
            figures[name] = {"rps": round(run["result"].rps, 1), "loop_user_us": round(run["loop_user"], 1),
                             "loop_sys_us": round(run["loop_sys"], 1), "other_threads_us": round(run["others"], 1)}
        text += (f"# without the sampler, same run: baseline ({args.baseline_tree}) event-loop thread "
                 f"{baseline['loop_user']:.0f} user + {baseline['loop_sys']:.0f} sys, other threads "
                 f"{baseline['others']:.0f}; this tree {plain['loop_user']:.0f} user + {plain['loop_sys']:.0f} sys, "
                 f"other threads {plain['others']:.0f}\n")
    if raw:
        summary, total = stage_summary(raw)
        text += (f"\n## loop thread while holding the GIL, by innermost lgsp frame (py-spy --gil, {total} samples; "
                 "wall-clock samples, so a thread descheduled while holding the GIL counts too)\n" + summary + "\n")
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
