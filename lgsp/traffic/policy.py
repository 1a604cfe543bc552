"""The declared traffic policy: defined by the registry (registry/traffic_policy.py), re-exported here.

The registry declares limits, so the dataclass and its checks live with it; lgsp.traffic enforces them and
imports them from there. This name stays so `lgsp.traffic.policy` keeps meaning what it always did.
"""

from __future__ import annotations

from registry.traffic_policy import (
    ALL_CALLERS,
    EACH_CLIENT,
    QUOTA_PERIODS,
    QUOTA_ZONE,
    TrafficLimit,
    parse_rate,
    quota_window,
    validate,
)

__all__ = ["ALL_CALLERS", "EACH_CLIENT", "QUOTA_PERIODS", "QUOTA_ZONE", "TrafficLimit", "parse_rate",
           "quota_window", "validate"]
