"""SQLite WAL checkpoints in their own thread, off the audit writer's commit path (issue 14.2).

SQLite copies the WAL back into the database file (a *checkpoint*) automatically when a commit leaves more
than 1,000 pages in the WAL, and it does so inside that COMMIT, on the committing connection. For the
gateway that connection is the audit writer's (:mod:`lgsp.audit.commit_thread`). At a moderate rate a
batch is one entry and ~8 WAL pages, so about every 125 batches (every ~0.25 s at 500 req/s) one batch also
wrote ~1,000 pages into the database file and fsynced it — 1-3 ms on the bench machine — and the callers
of that batch, and of the entries that queued behind it, waited for it. That was a regular term of the
gateway's p99 at a fixed rate (bench/gateway_latency.py).

So the writer's connection keeps SQLite's automatic checkpoint only as a backstop (:data:`BACKSTOP_PAGES`,
for when this thread cannot keep up or has failed), and :class:`WalCheckpointer` runs
``PRAGMA wal_checkpoint(PASSIVE)`` on a connection of its own every :data:`INTERVAL_SECONDS`. PASSIVE never
waits for readers or writers: commits go on while it copies. Durability does not change: a commit is
durable once its WAL frames are fsynced (``synchronous=FULL``), checkpointed or not, and after a crash
SQLite replays the committed WAL frames on the next open, exactly as before. pysqlite releases the GIL
while the checkpoint runs, so the event loop is not held up either.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import structlog
from sqlalchemy import Connection, Engine

__all__ = ["BACKSTOP_PAGES", "INTERVAL_SECONDS", "WalCheckpointer", "applies_to", "keep_checkpoints_off_commits"]

log = structlog.get_logger("lgsp.store")

#: WAL pages above which a commit on the writer's connection still checkpoints by itself (SQLite's default
#: is 1,000; 10,000 pages of 4 KiB = 40 MiB of WAL).
BACKSTOP_PAGES = 10_000
#: How often the checkpoint thread copies the WAL into the database file.
INTERVAL_SECONDS = 0.25


def applies_to(engine: Engine) -> bool:
    """Whether ``engine`` is a SQLite database in a file (the only kind with a WAL to checkpoint)."""
    return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")


def keep_checkpoints_off_commits(conn: Connection) -> None:
    """For the writer's kept connection: automatic checkpoints only past :data:`BACKSTOP_PAGES`.

    Set on the driver connection (autocommit mode, see ``lgsp.store.db``): a PRAGMA through SQLAlchemy
    would begin a transaction first.
    """
    driver: Any = conn.connection.driver_connection
    driver.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")


class WalCheckpointer:
    """A daemon thread running a PASSIVE checkpoint every ``interval`` seconds on its own connection."""

    def __init__(self, engine: Engine, interval: float = INTERVAL_SECONDS) -> None:
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Checkpoints run, and the last result: (busy, WAL frames, frames checkpointed) (tests read these).
        self.checkpoints = 0
        self.last: tuple[int, int, int] | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lgsp-wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread (it finishes the checkpoint in progress, if any); blocking, but briefly."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _checkpoint(self, raw: Any) -> None:
        """PASSIVE checkpoints until one finds no frames appended since the previous one (at most 3).

        SQLite starts the WAL over from its beginning (instead of growing it) only when a write transaction
        begins while every frame is already in the database file. Commits that land during a checkpoint
        leave a few frames behind; the follow-up copies just those, so the writer's next transaction
        usually finds the WAL fully checkpointed and restarts it.
        """
        frames = -1
        for _ in range(3):
            cursor = raw.cursor()
            try:
                row = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            finally:
                cursor.close()
            self.checkpoints += 1
            self.last = (int(row[0]), int(row[1]), int(row[2]))
            if row[0] or row[1] == frames or row[1] == row[2] == 0:  # busy, caught up, or the WAL restarted
                return
            frames = row[1]

    def _run(self) -> None:
        raw: Any = None
        try:
            while not self._stop.wait(self._interval):
                try:
                    if raw is None:
                        raw = self._engine.raw_connection()
                    self._checkpoint(raw)
                except Exception as exc:  # the backstop checkpoints on commit meanwhile; try again later
                    log.warning("WAL checkpoint failed; will retry", error=str(exc))
                    if raw is not None:
                        with contextlib.suppress(Exception):
                            raw.invalidate()
                        raw = None
        finally:
            if raw is not None:
                with contextlib.suppress(Exception):
                    raw.close()
