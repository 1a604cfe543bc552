"""`lgsp demo` stops on Ctrl-C/SIGTERM (README: "Ctrl-C stops everything it started").

Before: the handler called ``threading.Event.set()`` while the main thread was inside ``Event.wait()``; a
signal that landed while ``wait`` held the event's lock ran the handler in that thread, which blocked on the
same lock for ever (seen: a demo that ignored SIGTERM and SIGINT, main thread stuck in lock.acquire under
the signal handler). Now the handler takes no lock.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from lgsp.demo import runner


def test_a_signal_during_the_wait_stops_it() -> None:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    killer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM))
    killer.start()
    try:
        assert runner.wait_for_stop_signal(poll_seconds=0.05) == signal.SIGTERM
    finally:
        killer.cancel()
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_the_handler_takes_no_lock_even_when_it_interrupts_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic form of the race: the signal handler runs in the middle of the waiting loop."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    real_sleep = time.sleep

    def sleep_then_signal(seconds: float) -> None:
        handler = signal.getsignal(signal.SIGINT)
        assert callable(handler)
        done = threading.Event()
        worker = threading.Thread(target=lambda: (handler(signal.SIGINT, None), done.set()), daemon=True)
        worker.start()  # a handler that waits on a lock the loop holds would never finish
        assert done.wait(5), "the stop handler blocked"
        real_sleep(0)

    monkeypatch.setattr(runner.time, "sleep", sleep_then_signal)
    try:
        assert runner.wait_for_stop_signal() == signal.SIGINT
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
