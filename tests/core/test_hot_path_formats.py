"""The gateway's hand-formatted outputs equal what the generic code they replace produced (issue 14)."""

from __future__ import annotations

import json
import random
import re
import uuid
from typing import Any

import pytest

from lgsp import logs
from lgsp.gateway.headers import _V4_BITS, _V4_MASK, valid_message_id

KEYS = ("message_id", "correlation_id", "client", "service", "method", "status", "latency_ms", "audit_index",
        "problem", "attempts")


@pytest.mark.parametrize("values", [
    ("89426a86-60d3-46c6-897e-518657b8b7db", "corr-7", "000.00.12.H10/MOTCUA", "000.00.25.H10/QT/aqi", "GET", 200,
     40.88, 6298, None, 1),
    ("m", 'quote " backslash \\ newline \n control \x01 del \x7f', None, "-", None, 401, 0.0, None,
     "unauthenticated", 0),
    ("m", "Nguyễn Văn A \u2028 \U0001f600", "c", "s", "POST", 502, 1234.567, 0, "upstream-timeout", 3),
])
def test_access_line_is_the_json_the_encoder_wrote(values: Any) -> None:
    format_line: Any = logs.format_access_line  # called with the parametrised tuple spread out
    line = format_line(*values, "2026-12-07T01:11:14.846319Z")
    expected = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode(
        {**dict(zip(KEYS, values, strict=True)), "event": "exchange", "level": "info",
         "timestamp": "2026-12-07T01:11:14.846319Z"})
    assert line == expected
    assert "\n" not in line  # one line per exchange, whatever the caller put in its headers


def test_access_clock_is_iso_utc_with_microseconds() -> None:
    stamp = logs._Clock().now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)


def test_generated_message_ids_are_what_uuid_formats() -> None:
    for seed in range(200):
        random.seed(seed)
        made = valid_message_id(None)
        random.seed(seed)
        assert made == str(uuid.UUID(int=random.getrandbits(128) & _V4_MASK | _V4_BITS))
        assert uuid.UUID(made).version == 4


@pytest.mark.parametrize("given", ["{0}", "{0}".upper(), "{{{0}}}", "urn:uuid:{0}", "{0}".replace("-", "")])
def test_caller_message_ids_come_back_canonical(given: str) -> None:
    canonical = "89426a86-60d3-46c6-897e-518657b8b7db"
    assert valid_message_id(given.format(canonical)) == canonical


@pytest.mark.parametrize("bad", ["not-a-uuid", "89426a86-60d3-46c6-897e-518657b8b7db\n", "89426a86-60d3-46c6-897e"])
def test_invalid_message_ids_are_replaced(bad: str) -> None:
    made = valid_message_id(bad)
    assert made != bad and str(uuid.UUID(made)) == made


@pytest.mark.parametrize("status", [200, 503])
def test_exchange_metrics_count_what_prometheus_observe_counts(status: int) -> None:
    """`metrics.observe_exchange` updates the values directly; the exposition equals the public API's."""
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from lgsp import metrics

    service = f"test/hot-path/{uuid.uuid4()}"
    reference = CollectorRegistry()
    requests = Counter("lgsp_requests_total", "Exchanges handled by the gateway", ["service", "status"],
                       registry=reference)
    errors = Counter("lgsp_errors_total", "Exchanges that ended in an error status (>= 400)", ["service"],
                     registry=reference)
    latency = Histogram("lgsp_request_duration_seconds", "Exchange latency through the gateway", ["service"],
                        buckets=metrics.LATENCY._upper_bounds[:-1], registry=reference)
    bounds = [b for b in metrics.LATENCY._upper_bounds if b != float("inf")]
    samples = [0.0, *bounds, *(b * 1.0001 for b in bounds), *(b * 0.9999 for b in bounds), 45.0, 1e9]
    for seconds in samples:
        metrics.observe_exchange(service, status, seconds)
        requests.labels(service, str(status)).inc()
        if status >= 400:
            errors.labels(service).inc()
        latency.labels(service).observe(seconds)

    def lines(text: bytes) -> list[str]:
        return sorted(line for line in text.decode().splitlines() if service in line and "_created" not in line)

    assert lines(generate_latest()) == lines(generate_latest(reference))
    assert len(lines(generate_latest())) == len(bounds) + 1 + 2 + 1 + (1 if status >= 400 else 0)
