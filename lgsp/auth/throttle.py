"""Failure throttling for `/oauth/token`: per client id and per remote address, in-process.

Each gateway process counts failed client authentications in a sliding window; once a key (a client id
or an address) has `limit` failures within `window` seconds, further attempts with that key get 429 with
`Retry-After` until the oldest failure leaves the window. A correct secret is refused too while the key
is locked, or guessing could simply continue between lockouts.

In-process on purpose: no store write per failed guess (which would turn a guessing attack into a load
on the database). With N gateway processes behind a balancer an attacker gets at most N x `limit`
guesses per window; that is still about 10^-70 of a 256-bit secret space. The memory is bounded: at
most `max_keys` keys are tracked, the least recently failed ones are forgotten first.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque


class FailureThrottle:
    def __init__(self, limit: int, window_seconds: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, *keys: str | None, now: float | None = None) -> int | None:
        """Seconds until the first locked key frees up, or None when none of ``keys`` is locked."""
        if self.limit <= 0:
            return None
        now = time.monotonic() if now is None else now
        waits: list[float] = []
        with self._lock:
            for key in keys:
                if key is None:
                    continue
                failures = self._failures.get(key)
                if failures is None:
                    continue
                while failures and failures[0] <= now - self.window:
                    failures.popleft()
                if len(failures) >= self.limit:
                    waits.append(failures[len(failures) - self.limit] + self.window - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def record_failure(self, *keys: str | None, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                if key is None:
                    continue
                failures = self._failures.pop(key, None) or deque(maxlen=max(self.limit, 1))
                failures.append(now)
                self._failures[key] = failures
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
