"""A half-open trial that ends without a verdict on the provider gives the trial back.

Before: `Upstream.send` released the trial only when the caller's body failed. A trial cancelled (shutdown, a
deadline) or ended by an exception that is not the provider's fault kept `trial_in_flight` set for ever, so
`allow()` refused every later call: the gateway answered 503 circuit-open (Retry-After: 1) to that provider
until a restart, even after it recovered.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from lgsp.gateway.breaker import CircuitBreakers
from lgsp.gateway.upstream import Upstream

PROVIDER = "http://127.0.0.1:1/prov"


class _Session:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


def _exchange() -> Any:
    service = SimpleNamespace(id="A/B/c", base_url=PROVIDER, timeout_seconds=1.0, retry_attempts=0,
                              retry_backoff_seconds=0.0, idempotent_methods=frozenset({"GET"}))
    request = SimpleNamespace(method="GET", sub_path="/x", query="", body=b"", body_stream=None, body_error=None)
    return SimpleNamespace(service=service, request=request, attempts=0)


@pytest.mark.parametrize("error", [asyncio.CancelledError(), RuntimeError("not the provider's fault")],
                         ids=["cancelled", "other error"])
def test_a_trial_that_ends_without_a_verdict_is_given_back(error: BaseException) -> None:
    breakers = CircuitBreakers(threshold=1, cooldown_seconds=0.0)
    breakers.record_failure(PROVIDER)  # open; with no cooldown the next call is the half-open trial
    upstream = Upstream(pool_size=1, breakers=breakers)
    upstream.session = _Session(error)  # type: ignore[assignment]

    async def go() -> None:
        with pytest.raises(type(error)):
            await upstream.send(_exchange(), {})
    asyncio.run(go())
    assert breakers.allow(PROVIDER), "the half-open trial stayed claimed: the circuit can never close again"
