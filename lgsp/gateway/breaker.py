"""A per-provider circuit breaker: stop hammering a provider that keeps failing.

Closed: calls pass; consecutive failures are counted. After `threshold` failures it opens: calls fail
fast (503) until `cooldown` has passed. Then it is half-open: one trial call passes; success closes
the circuit, failure opens it for another cooldown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class _Circuit:
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False


class CircuitBreakers:
    def __init__(self, threshold: int = 5, cooldown_seconds: float = 30.0) -> None:
        self.threshold = threshold
        self.cooldown = cooldown_seconds
        self._circuits: dict[str, _Circuit] = {}

    def providers(self) -> list[str]:
        """Every provider this process has seen fail (for the console's list of open breakers)."""
        return sorted(self._circuits)

    def state(self, provider: str) -> str:
        circuit = self._circuits.get(provider)
        if circuit is None or circuit.opened_at is None:
            return "closed"
        if time.monotonic() - circuit.opened_at >= self.cooldown:
            return "half-open"
        return "open"

    def allow(self, provider: str) -> bool:
        """Whether a call may go to ``provider`` now (claims the single half-open trial)."""
        circuit = self._circuits.get(provider)
        if circuit is None or circuit.opened_at is None:
            return True
        if time.monotonic() - circuit.opened_at < self.cooldown:
            return False
        if circuit.trial_in_flight:
            return False
        circuit.trial_in_flight = True
        return True

    def retry_after(self, provider: str) -> int:
        circuit = self._circuits.get(provider)
        if circuit is None or circuit.opened_at is None:
            return 0
        return max(1, int(self.cooldown - (time.monotonic() - circuit.opened_at) + 0.999))

    def record_success(self, provider: str) -> None:
        circuit = self._circuits.get(provider)
        if circuit is not None:
            circuit.failures, circuit.opened_at, circuit.trial_in_flight = 0, None, False

    def release(self, provider: str) -> None:
        """Give back a half-open trial that ended for reasons unrelated to the provider."""
        circuit = self._circuits.get(provider)
        if circuit is not None:
            circuit.trial_in_flight = False

    def record_failure(self, provider: str) -> None:
        circuit = self._circuits.setdefault(provider, _Circuit())
        circuit.failures += 1
        if circuit.trial_in_flight or circuit.failures >= self.threshold:
            circuit.opened_at = time.monotonic()
        circuit.trial_in_flight = False
