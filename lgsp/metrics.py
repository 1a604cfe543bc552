"""Prometheus metrics: per-service request count, error count and latency histogram.

With several worker processes (`lgsp serve --workers N`) prometheus-client's multiprocess mode is used
(`PROMETHEUS_MULTIPROC_DIR`, set by `lgsp serve`), so `/metrics` sums all workers.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

REQUESTS = Counter("lgsp_requests_total", "Exchanges handled by the gateway", ["service", "status"])
ERRORS = Counter("lgsp_errors_total", "Exchanges that ended in an error status (>= 400)", ["service"])
LATENCY = Histogram("lgsp_request_duration_seconds", "Exchange latency through the gateway", ["service"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

TRAFFIC_REFUSED = Counter("lgsp_traffic_refused_total", "Calls refused by a traffic limit (rate, quota, concurrency)",
                          ["service", "limit"])


#: (service, status) -> the bound children it updates. `labels()` costs a lock, a tuple and a dict lookup per
#: call and per metric; the children are bound once. Bounded by registered services x statuses seen.
_bound: dict[tuple[str, int], tuple[Any, Any, Any]] = {}


def observe_exchange(service: str, status: int, seconds: float) -> None:
    children = _bound.get((service, status))
    if children is None:
        children = _bound[(service, status)] = (
            REQUESTS.labels(service, str(status)), ERRORS.labels(service) if status >= 400 else None,
            LATENCY.labels(service))
    requests, errors, latency = children
    requests.inc()
    if errors is not None:
        errors.inc()
    latency.observe(seconds)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
