"""Background work an adapter adds to `lgsp worker` (its `AdapterInfo.worker_jobs` factory returns these)."""

from __future__ import annotations

from lgsp.jobs import Job

__all__ = ["Job"]
