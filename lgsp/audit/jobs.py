"""`lgsp worker` jobs for the audit log: body retention, and head signing as a backstop.

Heads are normally signed by the gateway processes themselves (:class:`lgsp.audit.heads.HeadSigner`);
the worker's head job only matters when every gateway runs with ``audit_heads_enabled = false``
(e.g. key material kept on the worker host only). Retention is idempotent, so running it both here
and in the gateways is harmless. Registered through the ``lgsp.worker_jobs`` entry-point group as
``audit = "lgsp.audit.jobs:audit_jobs"``.
"""

from __future__ import annotations

from sqlalchemy import Engine

from lgsp.audit.heads import HeadService, apply_retention
from lgsp.jobs import Job
from lgsp.settings import Settings


def audit_jobs(engine: Engine, settings: Settings) -> list[Job]:
    jobs = []
    if settings.audit_body_retention_days > 0:
        days = settings.audit_body_retention_days
        jobs.append(Job("audit-body-retention", 3600, lambda: apply_retention(engine, days)))
    if not settings.audit_heads_enabled:
        heads = HeadService(engine, settings)
        jobs.append(Job("audit-heads", max(1.0, min(settings.audit_head_every_seconds, 60.0)), heads.sign))
    return jobs
