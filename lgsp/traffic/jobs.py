"""`lgsp worker` job: sweep expired traffic counters and abandoned slots out of the store.

Expired rows are already ignored by admissions, so this only keeps the tables small (one row per key per quota
window would otherwise pile up month after month). Registered as ``traffic = "lgsp.traffic.jobs:traffic_jobs"``.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine

from lgsp.jobs import Job
from lgsp.settings import Settings
from lgsp.traffic.backends import StoreBackend


def traffic_jobs(engine: Engine, settings: Settings) -> list[Job]:
    if settings.traffic_backend not in {"store", "auto"} or (settings.traffic_backend == "auto" and settings.redis_url):
        return []
    backend = StoreBackend(engine)
    return [Job("traffic-sweep", 600, lambda: backend.sweep(time.time()))]
