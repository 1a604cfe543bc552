"""Where the Merkle tree's node hashes live: in memory (tests, offline tools) or in SQL (the log).

Why store nodes and not only leaves: recomputing a root from 10**6 leaves takes ~0.7 s of hashing; reading
the ~20 perfect-subtree hashes a proof needs takes ~0.3 ms (bench/audit_proofs.py). Only *perfect* subtrees are
stored — they never change once complete — so the table is append-only, like the log itself: each
appended leaf adds its own row plus one row per subtree it completes (≈ 2 rows per leaf overall).

Writers: exactly one process integrates leaves at a time (the sequencer holding the advisory lock,
DESIGN §6). :meth:`SqlTreeStore.append` takes the expected first index, so a second writer, a replay
or a hole fails loudly instead of corrupting the tree; pass the sequencer's connection to make the
node rows part of the same transaction as the entries they commit to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    LargeBinary,
    Select,
    SmallInteger,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from lgsp.audit.merkle import NodeReader, extend_frontier, perfect_cover
from lgsp.store.base import Base
from lgsp.store.db import writer

__all__ = [
    "AuditTreeNode",
    "MemoryTreeStore",
    "SqlTreeStore",
    "TreeStore",
    "TreeStoreError",
    "raw_frontier_at",
]


class TreeStoreError(ValueError):
    """The store refuses an append (wrong position, not a 32-byte hash); absent nodes are KeyError."""


class TreeStore(NodeReader, Protocol):
    """Read side of :class:`~lgsp.audit.merkle.NodeReader` plus incremental append."""

    def append(self, leaf_hashes: Sequence[bytes], start_index: int | None = None) -> int:
        """Integrate leaves; ``start_index`` must equal the current size if given. Returns new size."""
        ...


class MemoryTreeStore:
    """All perfect-subtree hashes in Python lists: for tests, tools and recomputation."""

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self._frontier: dict[int, bytes] = {}
        if leaf_hashes:
            self.append(leaf_hashes)

    def size(self) -> int:
        return len(self._levels[0])

    def append(self, leaf_hashes: Sequence[bytes], start_index: int | None = None) -> int:
        if start_index is not None and start_index != self.size():
            raise TreeStoreError(f"append at index {start_index}, but the tree has {self.size()} leaves")
        try:
            rows = extend_frontier(self._frontier, self.size(), leaf_hashes)
        except ValueError as exc:
            raise TreeStoreError(str(exc)) from exc
        for level, index, h in rows:
            while len(self._levels) <= level:
                self._levels.append([])
            assert len(self._levels[level]) == index
            self._levels[level].append(h)
        return self.size()

    def get_nodes(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        try:
            return [self._levels[level][index] for level, index in nodes]
        except IndexError as exc:
            raise KeyError(f"perfect subtree not in store among {list(nodes)}") from exc


class AuditTreeNode(Base):
    """One complete perfect subtree of the audit Merkle tree; level 0 rows are the leaf hashes."""

    __tablename__ = "audit_tree_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)


_NODES = cast(Table, AuditTreeNode.__table__)
_T = TypeVar("_T")


@lru_cache(maxsize=128)
def _point_lookup(count: int) -> Select[tuple[int, int, bytes]]:
    """``WHERE (level=:l0 AND idx=:i0) OR ...``, built once per node count.

    Not ``(level, idx) IN (VALUES ...)``: SQLite answers that with a full index scan (15 ms at 10**5
    leaves), while an OR of primary-key equalities is a handful of index seeks on both databases.
    """
    return select(_NODES.c.level, _NODES.c.idx, _NODES.c.hash).where(
        or_(*[and_(_NODES.c.level == bindparam(f"l{k}"), _NODES.c.idx == bindparam(f"i{k}")) for k in range(count)])
    )


def _frontier_probes(size: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The cover of ``[0, size)`` and the nodes to look up: the cover, leaf ``size`` and leaf ``size - 1``."""
    cover = perfect_cover(0, size) if size else []
    return cover, [*cover, (0, size)] + ([(0, size - 1)] if size and (0, size - 1) not in cover else [])


def _checked_frontier(size: int, cover: list[tuple[int, int]], probes: list[tuple[int, int]],
                      found: dict[tuple[int, int], bytes]) -> dict[int, bytes]:
    if (0, size) in found or any(node not in found for node in probes if node != (0, size)):
        raise TreeStoreError(f"audit_tree_nodes does not hold exactly the {size} leaves of audit_entries: "
                             "the tree is out of step with the log (run `lgsp audit verify`)")
    return {level: found[(level, index)] for level, index in cover}


_raw_lookups: dict[tuple[str, int], str] = {}


def raw_frontier_at(cursor: Any, paramstyle: str, size: int) -> dict[int, bytes]:
    """:meth:`SqlTreeStore.frontier_at` on a DBAPI cursor (the audit writer's batch transaction).

    The same point lookup and the same checks, without SQLAlchemy's statement handling; ``paramstyle``
    is the driver's (``qmark`` for sqlite3, ``format`` for psycopg).
    """
    cover, probes = _frontier_probes(size)
    key = (paramstyle, len(probes))
    sql = _raw_lookups.get(key)
    if sql is None:
        mark = "?" if paramstyle == "qmark" else "%s"
        where = " OR ".join([f"(level = {mark} AND idx = {mark})"] * len(probes))
        sql = _raw_lookups[key] = f"SELECT level, idx, hash FROM {_NODES.name} WHERE {where}"  # noqa: S608
    params: list[int] = []
    for level, index in probes:
        params += (level, index)
    cursor.execute(sql, params)
    found = {(int(level), int(index)): bytes(value) for level, index, value in cursor.fetchall()}
    return _checked_frontier(size, cover, probes, found)


class SqlTreeStore:
    """Node hashes in the ``audit_tree_nodes`` table (SQLAlchemy Core; SQLite and PostgreSQL).

    Methods take an optional ``connection`` so the caller can put them inside its own transaction;
    without one, each call opens (and for writes, commits) its own.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _read(self, connection: Connection | None, fn: Callable[[Connection], _T]) -> _T:
        if connection is not None:
            return fn(connection)
        with self.engine.connect() as conn:
            return fn(conn)

    def size(self, connection: Connection | None = None) -> int:
        """Leaves integrated so far: max leaf index + 1 (a primary-key lookup, not a COUNT)."""
        stmt = select(func.max(_NODES.c.idx)).where(_NODES.c.level == 0)
        top = self._read(connection, lambda c: c.execute(stmt).scalar())
        return 0 if top is None else int(top) + 1

    def frontier_at(self, size: int, connection: Connection) -> dict[int, bytes]:
        """The frontier (level -> hash of the cover of ``[0, size)``), checked against the log's ``size``.

        One point lookup instead of :meth:`size` then :meth:`get_nodes`: the cover nodes, the last leaf
        (``size - 1``, must exist) and the next one (``size``, must not). It runs under the sequencer lock
        whenever another process appended last (``--workers 2`` alternates, so nearly every batch), and the
        statement saved there is lock hold time every other worker waits for (issue 14.3). Raises
        :class:`TreeStoreError` when the tree is out of step with the log, as the size check did.
        """
        cover, probes = _frontier_probes(size)
        stmt = _point_lookup(len(probes))
        params = {}
        for k, (level, index) in enumerate(probes):
            params[f"l{k}"], params[f"i{k}"] = level, index
        found = {(int(r.level), int(r.idx)): bytes(r.hash) for r in connection.execute(stmt, params)}
        return _checked_frontier(size, cover, probes, found)

    def get_nodes(
        self, nodes: Sequence[tuple[int, int]], connection: Connection | None = None
    ) -> list[bytes]:
        if not nodes:
            return []
        stmt = _point_lookup(len(nodes))
        params = {}
        for k, (level, index) in enumerate(nodes):
            params[f"l{k}"], params[f"i{k}"] = level, index
        rows = self._read(connection, lambda c: c.execute(stmt, params).all())
        found = {(int(r.level), int(r.idx)): bytes(r.hash) for r in rows}
        missing = [n for n in nodes if n not in found]
        if missing:
            raise KeyError(f"perfect subtrees missing from audit_tree_nodes: {missing[:5]}")
        return [found[n] for n in nodes]

    def append(
        self,
        leaf_hashes: Sequence[bytes],
        start_index: int | None = None,
        connection: Connection | None = None,
    ) -> int:
        """Insert the rows for new leaves; refuses if ``start_index`` is not the current size.

        The frontier (≤ log2(size) left siblings) is re-read on every call, so a sequencer that
        takes over after another one died continues from what is committed, not from a cache.
        """
        if connection is None:
            with writer(self.engine).begin() as conn:
                return self.append(leaf_hashes, start_index, conn)
        size = self.size(connection)
        if start_index is not None and start_index != size:
            raise TreeStoreError(f"append at index {start_index}, but the tree has {size} leaves")
        if not leaf_hashes:
            return size
        frontier: dict[int, bytes] = {}
        if size:
            cover = perfect_cover(0, size)  # one perfect subtree per set bit of size, largest first
            hashes = self.get_nodes(cover, connection)
            frontier = {level: h for (level, _), h in zip(cover, hashes, strict=True)}
        try:
            rows = extend_frontier(frontier, size, leaf_hashes)
        except ValueError as exc:
            raise TreeStoreError(str(exc)) from exc
        connection.execute(_NODES.insert(), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in rows])
        return size + len(leaf_hashes)


class BoundTreeStore:
    """A :class:`SqlTreeStore` read through one open connection, as the NodeReader protocol wants
    (inside the sequencer's transaction, or to time proofs without connection checkout)."""

    def __init__(self, store: SqlTreeStore, conn: Connection) -> None:
        self.store, self.conn = store, conn

    def size(self) -> int:
        return self.store.size(self.conn)

    def get_nodes(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        return self.store.get_nodes(nodes, self.conn)
