"""A queue for SQLite's write lock: writers wait on ``flock`` instead of in SQLite's busy handler.

Why: SQLite has one write lock per database file, and a connection that finds it taken retries in its
busy handler, sleeping 1, 2, 5 … up to 100 ms between tries. With the gateway's and the worker's
group-commit threads taking turns every few milliseconds, each spent half its time asleep after the
other had long released the lock. An exclusive ``flock`` on a side file (``<db>-writer.lock``), taken
before ``BEGIN IMMEDIATE`` and released after ``COMMIT``, makes waiting writers of every lgsp process
(and thread) queue in the kernel and wake as soon as the holder is done. The kernel drops the lock of a
process that dies, so a SIGKILL never leaves it held.

It is an optimisation, not the lock: SQLite's own locking still decides (a writer that does not use
this file — an older process, the ``sqlite3`` shell — is waited for by the busy timeout as before).
PostgreSQL and in-memory SQLite: no-op.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator

from sqlalchemy import Engine

_local = threading.local()


def lock_path(engine: Engine) -> str | None:
    """The side file of ``engine``'s database, or None when it has none (PostgreSQL, ``:memory:``)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database) + "-writer.lock"


def _descriptor(path: str) -> int:
    """This thread's descriptor of ``path``: separate open files, so threads queue on each other too."""
    fds: dict[str, int] = getattr(_local, "fds", None) or {}
    _local.fds = fds
    fd = fds.get(path)
    if fd is None:
        fd = fds[path] = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    return fd


@contextlib.contextmanager
def queued_writer(engine: Engine) -> Iterator[None]:
    """Hold the side-file lock around one write transaction (re-entrant within a thread)."""
    path = lock_path(engine)
    depth: dict[str, int] = getattr(_local, "depth", None) or {}
    _local.depth = depth
    if path is None or depth.get(path):
        if path is not None:
            depth[path] += 1
        try:
            yield
        finally:
            if path is not None:
                depth[path] -= 1
        return
    fd = _descriptor(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        started = time.monotonic()
        fcntl.flock(fd, fcntl.LOCK_EX)  # releases the GIL while it waits
        _local.queued_ms = (time.monotonic() - started) * 1000
    depth[path] = 1
    try:
        yield
    finally:
        depth[path] = 0
        _local.queued_ms = 0.0
        fcntl.flock(fd, fcntl.LOCK_UN)


def take_queued_millis() -> float:
    """How long this thread's current write transaction waited in the queue (0 if it did not), once.

    Why: a writer whose statements wait at most a bound (``LGSP_STORE_LOCK_TIMEOUT_SECONDS``) queued here behind
    writers each waiting that bound for a lock held outside lgsp (the ``sqlite3`` shell), so the eighth caller
    waited eight bounds. The time spent queued counts against its bound (``lgsp.store.db``'s BEGIN)."""
    waited = float(getattr(_local, "queued_ms", 0.0) or 0.0)
    _local.queued_ms = 0.0
    return waited
