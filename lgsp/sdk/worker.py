"""Background work an adapter adds to `lgsp worker` (its `AdapterInfo.worker_jobs` factory returns these).

``LoopThread`` runs a coroutine that needs a long-lived event loop in a daemon thread kept alive by a job.
"""

from __future__ import annotations

from lgsp.jobs import Job, LoopThread

__all__ = ["Job", "LoopThread"]
