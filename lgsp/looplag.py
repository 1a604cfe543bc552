"""Event-loop lag monitor: a task that sleeps 1 ms and records how late it wakes up.

A stall of the loop (a blocking commit, a signature, a flush) delays every call in flight, so the p99
under load is bounded below by the longest stall. The monitor keeps the worst overshoot of each wall-clock
second, so a benchmark can pick the seconds of its measured window. It costs ~1,000 wake-ups per second,
so it is off unless ``loop_lag_file`` is set (benchmarks only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time


class LoopLagMonitor:
    def __init__(self, path: str, interval: float = 0.001) -> None:
        self.path = path.replace("{pid}", str(os.getpid()))
        self.interval = interval
        #: wall-clock second -> longest overshoot (seconds) seen in it
        self.worst: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="lgsp-loop-lag")

    async def _run(self) -> None:
        clock = time.perf_counter
        worst = self.worst
        while True:
            before = clock()
            await asyncio.sleep(self.interval)
            lag = clock() - before - self.interval
            second = int(time.time())
            if lag > worst.get(second, 0.0):
                worst[second] = lag

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.to_thread(self.dump)

    def dump(self) -> None:
        with open(self.path, "w", encoding="utf-8") as out:  # once, at shutdown
            for second, lag in sorted(self.worst.items()):
                out.write(json.dumps({"t": second, "lag_ms": round(lag * 1000, 3)}) + "\n")


def stalls_ms(path: str, windows: list[tuple[float, float]]) -> list[float]:
    """Each second's longest stall (ms) recorded inside any of ``windows`` ([start, end], Unix seconds) in a
    file written by the monitor."""
    found: list[float] = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if any(start <= row["t"] <= end for start, end in windows):
                found.append(float(row["lag_ms"]))
    return found


def worst_stall_ms(path: str, start: float, end: float) -> float | None:
    """The longest stall recorded in [start, end] (Unix seconds) in a file written by the monitor."""
    return max(stalls_ms(path, [(start, end)]), default=None)
