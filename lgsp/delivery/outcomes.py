"""The worker's store writes, group-committed: claims and delivery outcomes share one writer thread.

Why: a pool of 16 deliveries used to record each outcome in a write transaction of its own, from 16
threads at once, all queueing on SQLite's write lock (whose busy handler sleeps up to 100 ms between
tries) and each paying an fsync. Here every claim and every outcome is a unit of work for the process's
:class:`~lgsp.store.group_commit.GroupCommitter`: the outcomes that end while a batch commits go in the
next transaction together, one fsync for all.

Nothing is acknowledged earlier than before: a coroutine awaiting :meth:`OutcomeWriter.delivered`
resumes only after the outcome's transaction committed, and a claim's deliveries start only after the
claim committed. A SIGKILL loses at most the outcomes not yet committed — those rows stay ``in_flight``
until their lease ends and are delivered again (at-least-once, as before).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from sqlalchemy import Connection, Engine

from lgsp.delivery import claims
from lgsp.delivery.claims import Delivery
from lgsp.store.group_commit import GroupCommitter, committer_for


class OutcomeWriter:
    """Claims and outcomes of one worker, through the group committer of its engine."""

    def __init__(self, engine: Engine, committer: GroupCommitter | None = None) -> None:
        self.engine = engine
        self._committer = committer or committer_for(engine)

    async def claim(self, kinds: Collection[str], limit: int, lease_seconds: float) -> list[Delivery]:
        return await asyncio.wrap_future(self._committer.submit(claims.claim_unit(kinds, limit, lease_seconds)))

    async def delivered(self, delivery: Delivery, remote_id: str | None) -> bool:
        """Record success once committed; False if the lease was lost meanwhile."""
        def unit(conn: Connection) -> bool:
            return claims.delivered_on(conn, delivery, remote_id)
        return await asyncio.wrap_future(self._committer.submit(unit))

    async def failed(self, delivery: Delivery, error: str, *, dead: bool, retry_in: float) -> bool:
        """Record a failure (back to ``pending`` after ``retry_in`` s, or ``dead``) once committed."""
        def unit(conn: Connection) -> bool:
            return claims.failed_on(conn, delivery, error, dead=dead, retry_in=retry_in)
        return await asyncio.wrap_future(self._committer.submit(unit))
