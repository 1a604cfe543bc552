"""A worker job: a small periodic callable that `lgsp worker` runs (kept apart so it imports nothing heavy)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Job:
    name: str
    every_seconds: float
    run: Callable[[], object]
    #: Called once when the worker stops (SIGTERM): finish or release what the job holds.
    stop: Callable[[], object] | None = None
