"""Retry delays: exponential with full jitter.

Full jitter (a random delay between 0 and the exponential cap) spreads the retries of many messages
that failed together — e.g. when a national portal comes back after an outage — so they do not return
as one burst and knock it over again.
"""

from __future__ import annotations

import random


def retry_delay(attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1-based)."""
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    # never 0: a minimum of a tenth of the base keeps a failing receiver from a hot loop
    return max(base / 10, (rng or random).uniform(0, ceiling))
