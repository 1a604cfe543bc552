"""Failure injection for the NGSP simulator: SOAP Faults, 5xx, HTML error pages, XXE, non-XML, delays.

Tests and operators choose a failure either per request (header ``X-Ngsp-Sim-Inject: <mode>``, optional
``X-Ngsp-Sim-Delay: <seconds>``) or for the next N requests through ``POST /admin/inject``. Per-request
headers win, so one test cannot disturb another's calls.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

__all__ = ["MODES", "FaultInjector", "Injection"]

MODES = ("fault", "http500", "http503", "html", "xxe", "not-xml", "none")
MAX_DELAY = 30.0


@dataclass(frozen=True)
class Injection:
    mode: str = "none"
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown injection mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if not 0 <= self.delay <= MAX_DELAY:
            raise ValueError(f"delay must be between 0 and {MAX_DELAY} seconds")


class FaultInjector:
    """A thread-safe queue of injections queued by the admin endpoint, consumed one per request."""

    def __init__(self, default_delay: float = 0.0) -> None:
        self._queue: deque[Injection] = deque()
        self._lock = threading.Lock()
        self.default_delay = default_delay

    def queue(self, injection: Injection, count: int = 1) -> None:
        if not 1 <= count <= 10_000:
            raise ValueError("count must be between 1 and 10000")
        with self._lock:
            self._queue.extend([injection] * count)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def next(self, header_mode: str | None, header_delay: str | None) -> Injection:
        """The injection for this request: request headers first, then the admin queue, then none."""
        if header_mode or header_delay:
            return Injection(header_mode or "none", float(header_delay or 0.0))
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return Injection("none", self.default_delay)
