"""CPU and wall time per single-entry batch of the audit writer's commit thread (issue 14 part 4).

One producer awaits ``AuditWriter.record`` ``--entries`` times, so every batch is one entry, as at a
moderate request rate (``--producers N``: N concurrent callers, batches of about N, figures per entry, as
under wrk). Reports, per batch: wall µs (record to answer), the commit thread's user and
system CPU µs (``/proc/self/task/<tid>/stat``, so the loop's share is not counted), and the loop thread's.
``--profile`` prints the commit thread's top functions (cProfile, slows it down; for shares only).

Runs against the lgsp found on ``sys.path`` first: ``cd OTHER_TREE && OTHER_TREE/.venv/bin/python
THIS_TREE/bench/audit_batch.py --tree OTHER_TREE`` measures another checkout with this script.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--entries", type=int, default=3000)
parser.add_argument("--rounds", type=int, default=3, help="best of")
parser.add_argument("--backends", default="sqlite,postgresql")
parser.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
parser.add_argument("--profile", action="store_true")
parser.add_argument("--producers", type=int, default=1,
                    help="concurrent callers (batches of about this many entries; figures per entry then)")
args = parser.parse_args()
sys.path.insert(0, args.tree)

from bench.audit import make_entries, store  # noqa: E402
from bench.support.harness import load_average  # noqa: E402
from lgsp.audit.writer import AuditWriter  # noqa: E402
from lgsp.settings import Settings  # noqa: E402

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


def ticks(tid: int) -> tuple[int, int]:
    with open(f"/proc/self/task/{tid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def one(engine: Any, rows: list[dict[str, Any]], settings: Settings, profile: bool) -> dict[str, float]:
    async def run() -> dict[str, float]:
        writer = AuditWriter(engine, max_batch=512, settings=settings)
        await writer.start()
        await writer.record(rows[0])  # connect, first frontier read
        thread = writer.thread._thread
        tid = thread.native_id
        assert tid is not None
        loop_tid = threading.get_native_id()
        if profile:
            import cProfile
            prof = cProfile.Profile()
            original = writer.thread._commit

            def commit(*a: Any) -> Any:
                prof.enable()
                try:
                    return original(*a)
                finally:
                    prof.disable()
            writer.thread._commit = commit  # type: ignore[method-assign]
        before, loop_before, batches = ticks(tid), ticks(loop_tid), writer.thread.batches
        queue = iter(rows[1:])

        async def producer() -> None:
            for entry in queue:
                await writer.record(entry)

        start = time.perf_counter()
        await asyncio.gather(*(producer() for _ in range(args.producers)))
        wall = time.perf_counter() - start
        after, loop_after = ticks(tid), ticks(loop_tid)
        batches = writer.thread.batches - batches
        count = batches if args.producers == 1 else len(rows) - 1
        await writer.stop()
        if profile:
            import pstats
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return {"batches": batches, "entries_per_batch": (len(rows) - 1) / batches, "wall_us": wall * 1e6 / count,
                "thread_user_us": (after[0] - before[0]) * TICK_US / count,
                "thread_sys_us": (after[1] - before[1]) * TICK_US / count,
                "loop_cpu_us": (loop_after[0] + loop_after[1] - loop_before[0] - loop_before[1]) * TICK_US / count}

    return asyncio.run(run())


def main() -> None:
    # heads are not part of the per-batch cost
    settings = dataclasses.replace(Settings.load(), audit_heads_enabled=False)
    figures: dict[str, Any] = {"tree": args.tree, "load_before": load_average()}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            best: dict[str, float] | None = None
            for round_no in range(args.rounds):
                rows = make_entries(args.entries)
                with store(backend, Path(tmp), f"batch_{backend}_{round_no}") as engine:
                    result = one(engine, rows, settings, args.profile and round_no == 0)
                cpu = result["thread_user_us"] + result["thread_sys_us"]
                if best is None or cpu < best["thread_user_us"] + best["thread_sys_us"]:
                    best = result
            assert best is not None
            print(f"{backend}: " + ", ".join(f"{k} {v:.1f}" for k, v in best.items()), file=sys.stderr)
            figures[backend] = {k: round(v, 1) for k, v in best.items()}
    figures["load_after"] = load_average()
    first = figures[args.backends.split(",")[0]]
    # the share of a batch's wall time that is the commit thread's own CPU (the rest: fsync, the GIL, the loop)
    ratio = (first["thread_user_us"] + first["thread_sys_us"]) / first["wall_us"] if first["wall_us"] else 0.0
    print(json.dumps({"ratio": round(ratio, 3), "ratio_meaning": "commit thread CPU µs / wall µs per batch "
                      f"({args.backends.split(',')[0]}; lower: the thread waits more than it works)", **figures}))


if __name__ == "__main__":
    main()
