"""`lgsp worker`: the process that runs background jobs next to the gateway processes.

Jobs are small periodic callables. The core registers key maintenance (rotate the token signing key
when it is older than `LGSP_KEY_ROTATION_DAYS`, default 30); adapters add their own jobs (durable
deliveries, pollers, schedules) through the `lgsp.worker_jobs` entry-point group.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points

import structlog
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from lgsp import shutdown
from lgsp.auth.keys import KeyRing
from lgsp.auth.models import SigningKey
from lgsp.jobs import Job
from lgsp.settings import Settings, positive_setting
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.store.wait_bound import describe, is_store_wait

log = structlog.get_logger("lgsp.worker")




def rotate_key_if_old(engine: Engine, settings: Settings, max_age: timedelta) -> bool:
    """Rotate the signing key when the active one is older than ``max_age``; returns whether it did."""
    with Session(engine) as session:
        newest = session.scalar(select(SigningKey).where(SigningKey.retired_at.is_(None))
                                .order_by(SigningKey.created_at.desc()).limit(1))
    created = None if newest is None else newest.created_at
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    if created is not None and datetime.now(UTC) - created < max_age:
        return False
    kid = KeyRing(engine, settings.token_lifetime_seconds, settings).rotate()
    log.info("signing key rotated", kid=kid)
    return True


def core_jobs(engine: Engine, settings: Settings) -> list[Job]:
    days = positive_setting("LGSP_KEY_ROTATION_DAYS", 30, maximum=3650)  # float(): a traceback; 1e9: overflow
    return [Job("key-rotation", 3600, lambda: rotate_key_if_old(engine, settings, timedelta(days=days)))]


def plugin_jobs(engine: Engine, settings: Settings) -> list[Job]:
    """The core's own job groups (entry points `lgsp.worker_jobs`), then each adapter's `worker_jobs`."""
    from lgsp.adapters import parts

    jobs: list[Job] = []
    for ep in entry_points(group="lgsp.worker_jobs"):
        factory = ep.load()
        jobs.extend(factory(engine, settings))
    for _, factory in parts("worker_jobs"):
        jobs.extend(factory(engine, settings))
    return jobs


def run_worker(settings: Settings, stop: threading.Event | None = None) -> None:
    """Run the jobs until ``stop`` is set or SIGTERM/SIGINT arrives; then stop every job and return.

    The signal handlers are in place before the store is touched (normally since the ``lgsp`` entry
    point, see :mod:`lgsp.shutdown`), so a signal during the migrations, too, ends in a clean exit.
    """
    stop = stop or threading.Event()
    shutdown.install()
    unsubscribe = shutdown.on_request(stop.set)
    engine = make_engine(settings.database_url, lock_timeout_seconds=settings.store_lock_timeout_seconds)
    try:
        upgrade(engine)
        if stop.is_set():
            return
        jobs = core_jobs(engine, settings) + plugin_jobs(engine, settings)
        due = dict.fromkeys((job.name for job in jobs), 0.0)
        log.info("worker started", jobs=[job.name for job in jobs])
        elapsed = 0.0
        try:
            while not stop.is_set():
                for job in jobs:
                    if stop.is_set():
                        break
                    if elapsed >= due[job.name]:
                        try:
                            job.run()
                        except Exception as exc:
                            if is_store_wait(exc):  # a lock someone holds: the job runs again at its next turn
                                log.warning("store busy; job runs again at its next turn", job=job.name,
                                            error=describe(exc))
                            else:
                                log.exception("job failed", job=job.name)
                        due[job.name] = elapsed + job.every_seconds
                stop.wait(1.0)
                elapsed += 1.0
        finally:
            for job in jobs:
                if job.stop is not None:
                    try:
                        job.stop()
                    except Exception:
                        log.exception("job did not stop cleanly", job=job.name)
        log.info("worker stopped")
    finally:
        unsubscribe()
        engine.dispose()
