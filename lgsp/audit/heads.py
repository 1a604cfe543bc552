"""Signed tree heads for the stored log: the log key, the key table, signing, reading heads.

Why heads are signed off the request path: a head needs only committed tree nodes (perfect subtrees
never change), not the sequencer lock, so a background task can read the tree size, fold ~20 node
hashes into the root, sign it and (optionally) fetch an RFC 3161 token without ever delaying an
acknowledgement. We chose a task inside each gateway process (:class:`HeadSigner`) rather than an
``lgsp worker`` job because the gateway is the one component every deployment runs — a log whose
heads depend on a separately deployed worker could silently stop being signed — and because the
writer can wake the task the moment a batch crosses the N-entry threshold instead of polling.
Several processes stay harmless: on PostgreSQL a try-advisory-lock lets one of them sign at a
time, and ``tree_size`` is the primary key of ``audit_heads``, so a head is stored once.

Why the timestamp is taken when the head is stored, not when its root is read: verifiers refuse a
larger head dated earlier than a smaller one (that is how a head backdated with a retired key is
caught), so an honest log must never store one. Two processes (two gateways, gateway + worker, two
hosts with skewed clocks) could each read a size, sign, and store in either order. So the signature
is made inside the transaction that stores it, under the lock that orders heads (SQLite's write
lock; on PostgreSQL an advisory lock of its own), after reading the newest stored head: a smaller or
equal size is dropped, and the time is never earlier than that head's.

The private key lives in a file named by ``Settings.audit_log_key_file`` (created 0600 on first
start, never in the database or the repository); its public half is registered in
``audit_log_keys``, which ``GET /audit/keys`` publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, delete, select, text, update
from sqlalchemy.exc import IntegrityError

from lgsp.audit.canonical import format_time
from lgsp.audit.commit_thread import WriterNotRunning
from lgsp.audit.merkle import EMPTY_ROOT, range_hash
from lgsp.audit.models import AuditBody, AuditEntry, AuditHead, AuditLogKey
from lgsp.audit.sth import LogKeyRing, LogPublicKey, LogSigner, SignedTreeHead
from lgsp.audit.tree_store import BoundTreeStore, SqlTreeStore
from lgsp.settings import Settings
from lgsp.store.db import dialect_insert, writer
from lgsp.store.wait_bound import describe, is_store_wait

__all__ = [
    "HeadService",
    "HeadSigner",
    "apply_retention",
    "load_or_create_signer",
    "redact_bodies",
]

log = structlog.get_logger("lgsp.audit")
_HEAD_LOCK_ID = 0x6C677368  # "lgsh": one head signer at a time on PostgreSQL
_HEAD_ORDER_LOCK_ID = 0x6C67736F  # "lgso": heads are signed and stored one at a time, in size order


def load_or_create_signer(path: str | Path) -> LogSigner:
    """Read the Ed25519 log key, or create it (mode 0600, O_EXCL so racing processes agree on one)."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        signer = LogSigner.generate()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process won the race: use its key
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(signer.private_pem())
            return signer
    for _ in range(50):  # the winner may still be writing
        pem = path.read_bytes()
        if b"END PRIVATE KEY" in pem:
            return LogSigner.from_pem(pem)
        time.sleep(0.02)
    raise ValueError(f"{path} does not hold a PEM private key")


def head_from_row(row: Any) -> SignedTreeHead:
    """A stored ``audit_heads`` row (ORM object or Core row) as a :class:`SignedTreeHead`."""
    return SignedTreeHead(int(row.tree_size), bytes(row.root_hash), row.timestamp, row.key_id,
                          bytes(row.signature), bytes(row.tsa_token) if row.tsa_token is not None else None)


class HeadService:
    """Everything about heads for one store: reading, signing (with the key from settings), keys."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.tree = SqlTreeStore(engine)
        self._signer: LogSigner | None = None
        self._signer_stamp: int | None = None
        #: Set by the process's audit writer: runs a job in its next transaction (heads ride along with a
        #: batch instead of taking SQLite's write lock and an fsync of their own). None: own transaction.
        self.transactions: Callable[[Callable[[Connection], Any]], Any] | None = None

    @property
    def signer(self) -> LogSigner:
        """The log key, loaded (or created) on first use and registered in ``audit_log_keys``."""
        path = Path(self.settings.audit_log_key_file)
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            stamp = None
        if self._signer is None or stamp != self._signer_stamp:  # re-read after `lgsp audit keys rotate`
            from lgsp.keys.audit import load_or_create_log_signer  # ops (17.2): the key via lgsp.keys

            signer = load_or_create_log_signer(self.settings, path)
            self.register_key(signer.public)
            self._signer = signer
            self._signer_stamp = path.stat().st_mtime_ns
        return self._signer

    def reload_signer(self) -> None:
        self._signer = None

    def register_key(self, key: LogPublicKey) -> None:
        spki = key.public_key.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
        with self.engine.connect() as conn:
            if conn.execute(select(AuditLogKey.key_id).where(AuditLogKey.key_id == key.key_id)).first():
                return
        stmt = (dialect_insert(self.engine)(AuditLogKey)
                .values(key_id=key.key_id, public_key=spki, created_at=key.created_at or format_time(datetime.now(UTC)))
                .on_conflict_do_nothing(index_elements=["key_id"]))  # a racing process may win
        with contextlib.suppress(IntegrityError):
            self._write(lambda conn: conn.execute(stmt))

    def keyring(self) -> LogKeyRing:
        """The published keys (``GET /audit/keys``): every key that ever signed a head here."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(AuditLogKey).order_by(AuditLogKey.created_at)).all()
        keys = []
        for row in rows:
            public = serialization.load_der_public_key(bytes(row.public_key))
            if not isinstance(public, Ed25519PublicKey):
                continue  # not a log key this version can check; never trusted implicitly
            keys.append(LogPublicKey(public, created_at=row.created_at, retired_at=row.retired_at))
        return LogKeyRing(keys)

    # --- reading --------------------------------------------------------------------------------

    def latest(self, conn: Connection | None = None) -> SignedTreeHead | None:
        stmt = select(AuditHead).order_by(AuditHead.tree_size.desc()).limit(1)
        with self._conn(conn) as c:
            row = c.execute(stmt).first()
        return head_from_row(row) if row is not None else None

    def by_size(self, size: int) -> SignedTreeHead | None:
        with self.engine.connect() as c:
            row = c.execute(select(AuditHead).where(AuditHead.tree_size == size)).first()
        return head_from_row(row) if row is not None else None

    def covering(self, index: int) -> SignedTreeHead | None:
        """The smallest head whose tree contains entry ``index``."""
        stmt = select(AuditHead).where(AuditHead.tree_size > index).order_by(AuditHead.tree_size).limit(1)
        with self.engine.connect() as c:
            row = c.execute(stmt).first()
        return head_from_row(row) if row is not None else None

    def between(self, low: int, high: int) -> list[SignedTreeHead]:
        """Heads with ``low <= tree_size <= high``, ascending."""
        stmt = (select(AuditHead).where(AuditHead.tree_size >= low, AuditHead.tree_size <= high)
                .order_by(AuditHead.tree_size))
        with self.engine.connect() as c:
            return [head_from_row(r) for r in c.execute(stmt)]

    def iter_all(self) -> Iterator[SignedTreeHead]:
        with self.engine.connect() as c:
            for row in c.execute(select(AuditHead).order_by(AuditHead.tree_size)):
                yield head_from_row(row)

    @contextlib.contextmanager
    def _conn(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.engine.connect() as c:
                yield c

    # --- signing --------------------------------------------------------------------------------

    def due(self, conn: Connection | None = None) -> bool:
        """Whether the unsigned tail has reached N entries, or T seconds have passed with entries unsigned."""
        return self._due(self.tree.size(conn), self.latest(conn))

    def _due(self, size: int, latest: SignedTreeHead | None) -> bool:
        signed = latest.tree_size if latest else 0
        if size <= signed:
            return False
        if size - signed >= self.settings.audit_head_every_entries or latest is None:
            return True
        signed_at = datetime.strptime(latest.timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return datetime.now(UTC) - signed_at >= timedelta(seconds=self.settings.audit_head_every_seconds)

    def sign(self, force: bool = False) -> SignedTreeHead | None:
        """Sign a head over the committed tree if one is due (or ``force``); returns the latest head.

        With ``force`` and no new entries since the latest head, that head is returned unchanged:
        two heads of one size would say the same thing. Returns None only if another process holds
        the signing lock right now (it is producing the head) or the log is empty and not forced.
        """
        signer = self.signer
        # A plain (deferred) read transaction, also on SQLite: WAL gives it a consistent snapshot of the
        # committed tree without the write lock. Taking that lock here (BEGIN IMMEDIATE) made the audit
        # writer's next batch wait in SQLite's busy handler, which sleeps in 1-100 ms steps, for as long
        # as the root took to read and sign: a third of the gateway path's wall time in bench/audit.py.
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _HEAD_LOCK_ID}).scalar()
                if not got:
                    return None
            # One read of the size and of the latest head (due() would repeat both), and the root from
            # the nodes alone: this runs every N entries beside the writer, so each statement counts.
            latest = self.latest(conn)
            size = self.tree.size(conn)
            if latest is not None and latest.tree_size >= size:
                return latest
            if not force and not self._due(size, latest):
                return latest
            root = range_hash(BoundTreeStore(self.tree, conn), 0, size) if size else EMPTY_ROOT
        # Signed where it is stored (see the module docstring): the root of a size never changes, but the
        # time must be taken in the order heads are stored. The TSA round trip comes after, outside.
        head, stored = self._sign_and_store(signer, size, root)
        if not stored or head is None:  # another process stored a head of this size (or larger) first
            return head
        if self.settings.audit_tsa_url:
            from lgsp.audit.tsa import TimestampError, TsaClient

            try:
                token = TsaClient(self.settings.audit_tsa_url).timestamp_head_sync(head)
                self._write(lambda conn: conn.execute(
                    update(AuditHead).where(AuditHead.tree_size == size, AuditHead.tsa_token.is_(None))
                    .values(tsa_token=token)))
                head = head.with_tsa_token(token)
            except TimestampError as exc:
                log.warning("head stored without TSA token", tree_size=head.tree_size, error=str(exc))
        log.debug("audit head signed", tree_size=head.tree_size, root=head.root_hash.hex()[:16])
        if self.settings.audit_witnesses:
            from lgsp.audit.checkpoints import witness_head

            witness_head(self, head)
        return head

    def _sign_and_store(self, signer: LogSigner, size: int, root: bytes) -> tuple[SignedTreeHead | None, bool]:
        """Sign the head of ``size`` and insert it, under the lock that orders heads; (head, stored).

        If a head of this size or larger is stored already, that head is returned, not stored. The
        timestamp is never earlier than the newest stored head's (another host's clock may be ahead).
        """
        def sign_and_insert(conn: Connection) -> tuple[SignedTreeHead | None, bool]:
            if conn.dialect.name == "postgresql":  # SQLite: the write transaction is the lock
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _HEAD_ORDER_LOCK_ID})
            latest = self.latest(conn)
            if latest is not None and latest.tree_size >= size:
                return latest, False
            when = datetime.now(UTC)
            if latest is not None:
                when = max(when, datetime.strptime(latest.timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC))
            head = signer.sign_head(size, root, when)
            stmt = (dialect_insert(self.engine)(AuditHead)
                    .values(tree_size=head.tree_size, root_hash=head.root_hash, timestamp=head.timestamp,
                            key_id=head.key_id, signature=head.signature, tsa_token=None)
                    .on_conflict_do_nothing(index_elements=["tree_size"]))
            if not conn.execute(stmt).rowcount:
                return self.latest(conn), False
            return head, True

        try:
            return cast(tuple[SignedTreeHead | None, bool], self._write(sign_and_insert))
        except IntegrityError:
            return self.by_size(size), False

    def _write(self, job: Callable[[Connection], Any]) -> Any:
        """``job(conn)`` committed: in the audit writer's next transaction when one runs in this process
        (see ``transactions``; on SQLite a transaction of our own would fight the batches for the write
        lock, whose busy handler polls with sleeps and can lose for the whole busy timeout), else alone."""
        if self.transactions is not None:
            with contextlib.suppress(WriterNotRunning):
                return self.transactions(job)
        with writer(self.engine).begin() as conn:
            return job(conn)


class HeadSigner:
    """The gateway's background head task: signs when due, woken early by the writer after each batch.

    Runs the blocking work in its own thread so neither the event loop nor the audit writer's
    thread ever waits for signing, a TSA or retention.
    """

    def __init__(self, service: HeadService) -> None:
        self.service = service
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._unsigned = 0
        self._last_retention = 0.0

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="lgsp-audit-heads")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def appended(self, count: int) -> None:
        """Called by the writer after a committed batch: wake up once N entries may be unsigned."""
        self._unsigned += count
        if self._wakeup is not None and self._unsigned >= self.service.settings.audit_head_every_entries:
            self._wakeup.set()

    async def _run(self) -> None:
        assert self._wakeup is not None
        settings = self.service.settings
        period = max(0.05, min(settings.audit_head_every_seconds, 30.0))
        try:  # publish the key at start-up (GET /audit/keys), before the first head is due
            await asyncio.to_thread(lambda: self.service.signer)
        except Exception:
            log.exception("audit log key unavailable; heads cannot be signed until it is")
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), period)
            self._wakeup.clear()
            self._unsigned = 0
            try:
                await asyncio.to_thread(self.service.sign)
                if settings.audit_witnesses:
                    from lgsp.audit.checkpoints import rewitness_latest

                    await asyncio.to_thread(rewitness_latest, self.service)
                if settings.audit_body_retention_days > 0 and time.monotonic() - self._last_retention > 3600:
                    self._last_retention = time.monotonic()
                    await asyncio.to_thread(apply_retention, self.service.engine, settings.audit_body_retention_days)
            except Exception as exc:
                if is_store_wait(exc):  # a lock someone holds (LOCK TABLE, a migration): not a fault of ours
                    log.warning("store busy; audit head signing will retry", error=describe(exc))
                else:
                    log.exception("audit head signing failed; will retry")


# --- privacy and retention ---------------------------------------------------------------------------


def redact_bodies(engine: Engine, index: int) -> bool:
    """Erase the kept bodies of entry ``index`` (the entry and its body hashes stay); False if none kept."""
    with writer(engine).begin() as conn:
        result = conn.execute(
            update(AuditBody).where(AuditBody.idx == index)
            .values(request_body=None, response_body=None, redacted_at=datetime.now(UTC))
        )
        return bool(result.rowcount)


def apply_retention(engine: Engine, older_than_days: float) -> int:
    """Delete kept bodies of entries older than the cutoff; never entries or heads. Returns rows dropped."""
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    old = select(AuditEntry.idx).where(AuditEntry.time < cutoff).scalar_subquery()
    with writer(engine).begin() as conn:
        result = conn.execute(delete(AuditBody).where(AuditBody.idx.in_(old)))
        dropped = int(result.rowcount or 0)
    if dropped:
        log.info("audit bodies dropped by retention", rows=dropped, older_than_days=older_than_days)
    return dropped
