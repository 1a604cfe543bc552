"""`lgsp.jobs.LoopThread`: the one way a worker job keeps a coroutine with its own event loop alive."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from lgsp.jobs import LoopThread


def wait_until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the death is the case
def test_a_thread_that_died_is_restarted_and_stop_ends_the_coroutine() -> None:
    runs: list[int] = []
    stopped = threading.Event()

    async def main(stop: asyncio.Event) -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("first run dies")
        await stop.wait()
        stopped.set()

    thread = LoopThread("test-loop", main)
    job = thread.job("test-job", 0.5)
    assert job.name == "test-job" and job.every_seconds == 0.5
    job.run()
    wait_until(lambda: runs == [0] and not thread._thread.is_alive())  # type: ignore[union-attr]
    job.run()  # the worker's next tick: the dead thread is replaced
    wait_until(lambda: len(runs) == 2)
    job.run()  # alive: no third coroutine
    assert job.stop is not None
    job.stop()
    assert stopped.is_set() and runs == [0, 1]
    job.run()  # once stopping, never restarted
    time.sleep(0.05)
    assert runs == [0, 1]


def test_stop_before_the_loop_started_runs_nothing() -> None:
    runs: list[str] = []

    async def main(stop: asyncio.Event) -> None:
        runs.append("ran")

    thread = LoopThread("test-loop", main)
    thread.stop()
    thread.ensure_running()
    assert runs == []
