"""The stored log as evidence: receipts, consistency files, export bundles and the full store check.

Glue between the store (``audit_entries``, ``audit_tree_nodes``, ``audit_heads``, ``audit_log_keys``)
and the store-free evidence library (:mod:`lgsp.audit.bundle`), shared by the API and the CLI so both
produce byte-for-byte the same kinds of files the offline verifier checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from sqlalchemy import Engine, Table, and_, select
from sqlalchemy.orm import Session

from lgsp.audit.bundle import BundleError, Report, build_bundle, build_consistency, build_receipt, verify_log
from lgsp.audit.heads import HeadService
from lgsp.audit.merkle import ProofError, extend_frontier, root_hash
from lgsp.audit.models import AuditEntry
from lgsp.audit.query import AuditFilter, apply_filter, aware
from lgsp.audit.sth import LogKeyRing, SignedTreeHead
from lgsp.audit.tree_store import AuditTreeNode
from lgsp.audit.trust import (
    AuditState,
    TrustFile,
    check_quorum,
    check_state,
    check_untrusted_keys,
    finish_state,
    follow_key_events,
)
from lgsp.audit.verify import verify_chain

__all__ = [
    "EvidenceError",
    "consistency_file",
    "count_entries",
    "export_bundle",
    "head_covering",
    "iter_entries",
    "receipt_for",
    "verify_store",
]

_NODES: Table = AuditTreeNode.__table__  # type: ignore[assignment]
_COLUMNS = [c.name for c in AuditEntry.__table__.columns]


class EvidenceError(ValueError):
    """The request cannot be answered from this log (no such entry/head); the message says why."""


def _row_dict(row: AuditEntry) -> dict[str, Any]:
    fields = {name: getattr(row, name) for name in _COLUMNS}
    fields["time"] = aware(row.time)
    return fields


def iter_entries(engine: Engine, f: AuditFilter | None = None, start: int = 0, end: int | None = None,
                 batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Stored rows (column dicts, ascending index) in ``[start, end)`` matching ``f``, streamed."""
    query = apply_filter(select(AuditEntry), f or AuditFilter()).where(AuditEntry.idx >= start)
    if end is not None:
        query = query.where(AuditEntry.idx < end)
    with Session(engine) as session:
        rows = session.execute(query.order_by(AuditEntry.idx).execution_options(yield_per=batch))
        for (row,) in rows:
            yield _row_dict(row)


def count_entries(engine: Engine, f: AuditFilter | None, start: int, end: int) -> int:
    from sqlalchemy import func

    query = apply_filter(select(func.count()).select_from(AuditEntry), f or AuditFilter())
    query = query.where(AuditEntry.idx >= start, AuditEntry.idx < end)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def head_covering(heads: HeadService, size: int) -> SignedTreeHead:
    """A head over at least ``size`` entries: the smallest stored one, or a new one signed now."""
    for _ in range(100):
        head = heads.covering(size - 1) if size else heads.latest()
        if head is not None:
            return head
        if heads.tree.size() < size:
            raise EvidenceError(f"the log has only {heads.tree.size()} entries, not {size}")
        signed = heads.sign(force=True)  # on demand; None = another process is signing right now
        if signed is not None and signed.tree_size >= size:
            return signed
        time.sleep(0.05)
    raise EvidenceError("could not obtain a signed head (another process holds the signing lock)")


def receipt_for(engine: Engine, heads: HeadService, index: int, head_size: int | None = None) -> dict[str, Any]:
    """Entry ``index`` with its inclusion proof against the latest head (or the head of ``head_size``)."""
    with Session(engine) as session:
        row = session.get(AuditEntry, index)
        if row is None:
            raise EvidenceError(f"no audit entry {index}")
        entry = _row_dict(row)
    if head_size is None:
        latest = heads.latest()
        head = latest if latest is not None and latest.tree_size > index else head_covering(heads, index + 1)
    else:
        found = heads.by_size(head_size)
        if found is None:
            raise EvidenceError(f"no signed head of size {head_size}")
        if found.tree_size <= index:
            raise EvidenceError(f"head {head_size} does not cover entry {index}")
        head = found
    return build_receipt(entry, head, heads.tree, heads.keyring(), signer=heads.signer, **_witnessing(heads, [head]))


def consistency_file(heads: HeadService, old_size: int, new_size: int) -> dict[str, Any]:
    """Two stored heads and the consistency proof between them (``GET /audit/consistency``)."""
    if not 0 < old_size <= new_size:
        raise EvidenceError("need 0 < from <= to")
    old, new = heads.by_size(old_size), heads.by_size(new_size)
    if old is None or new is None:
        raise EvidenceError(f"no signed head of size {old_size if old is None else new_size}")
    return build_consistency(old, new, heads.tree, heads.keyring(), signer=heads.signer,
                             **_witnessing(heads, [old, new]))


def _witnessing(heads: HeadService, chosen: Sequence[SignedTreeHead]) -> dict[str, Any]:
    """The checkpoint origin and the stored witness cosignatures of ``chosen``, for a bundle."""
    from lgsp.audit.checkpoints import cosignature_lines
    from lgsp.audit.keys import key_events

    return {"origin": heads.settings.audit_checkpoint_origin, "key_events": key_events(heads),
            "cosignatures": {h.tree_size: cosignature_lines(heads.engine, h.tree_size) for h in chosen}}


def export_bundle(engine: Engine, heads: HeadService, start: int, end: int | None, f: AuditFilter | None = None,
                  progress: Callable[[int], None] | None = None,
                  proofs: Literal["entry", "range"] = "entry", prove_omissions: bool = False,
                  include_heads: Sequence[int] = ()) -> dict[str, Any]:
    """A self-contained bundle for ``[start, end)`` (default: to the end of the log), filtered by ``f``.

    The smallest head covering ``end`` is signed now if none does; every stored head inside the
    range is included too, and the log's *latest* head (proofs are against it), with consistency
    proofs between consecutive ones, so heads an auditor kept or a witness cosigned can be matched,
    and an old bundle cannot pass for a current one. ``include_heads`` adds stored heads of those
    sizes (e.g. the auditor's last verified checkpoint). The export statement (selection, latest
    head, digest of the entries) is signed by the log key. ``prove_omissions`` (filtered exports)
    adds every entry of the range that does not match, so completeness becomes provable.
    """
    size = heads.tree.size()
    end = size if end is None else min(end, size)
    if start < 0 or start > end:
        raise EvidenceError(f"empty or inverted range [{start}, {end}) (the log has {size} entries)")
    anchor = head_covering(heads, max(end, 1)) if size else None
    if anchor is None:
        raise EvidenceError("the log is empty")
    chosen = [*heads.between(start + 1, anchor.tree_size), anchor]
    latest = heads.latest()
    if latest is not None:
        chosen.append(latest)
    for size in include_heads:
        extra = heads.by_size(size)
        if extra is None:
            raise EvidenceError(f"no signed head of size {size}")
        chosen.append(extra)
    filters = _filter_json(f)
    omitted = None
    if filters and prove_omissions:
        matching = {row["idx"] for row in _index_rows(engine, f, start, end)}
        omitted = (row for row in iter_entries(engine, None, start, end) if row["idx"] not in matching)
    try:
        return build_bundle(iter_entries(engine, f, start, end), chosen, heads.tree, heads.keyring(),
                            selection=(start, end), filters=filters, progress=progress, proofs=proofs,
                            signer=heads.signer, omitted=omitted, **_witnessing(heads, chosen))
    except BundleError as exc:
        raise EvidenceError(str(exc)) from exc


def _index_rows(engine: Engine, f: AuditFilter | None, start: int, end: int) -> Iterator[dict[str, Any]]:
    query = apply_filter(select(AuditEntry.idx), f or AuditFilter()).where(AuditEntry.idx >= start,
                                                                          AuditEntry.idx < end)
    with engine.connect() as conn:
        for row in conn.execute(query):
            yield {"idx": int(row.idx)}


def _filter_json(f: AuditFilter | None) -> dict[str, Any] | None:
    if f is None:
        return None
    out = {k: v for k, v in {"client": f.client, "service": f.service, "user_id": f.user_id,
                             "message_id": f.message_id, "status": f.status,
                             "since": f.since.isoformat() if f.since else None,
                             "until": f.until.isoformat() if f.until else None}.items() if v is not None}
    return out or None


# --- `lgsp audit verify` ----------------------------------------------------------------------------


def verify_store(engine: Engine, heads: HeadService, progress: Callable[[int], None] | None = None,
                 trusted_keys: LogKeyRing | None = None,
                 known_heads: Sequence[SignedTreeHead] = ()) -> Report:
    """Recompute everything from the stored entries and check it against what the store claims.

    1. the hash chain and every row's leaf hash (``lgsp.audit.verify``);
    2. the Merkle tree rebuilt from the entries alone, and every stored head: signature by a
       registered key — or by one of ``trusted_keys``, since the key table could be edited too —
       and root equal to the recomputed root at its size (``bundle.verify_log``);
    3. the stored tree nodes (what proofs are served from) equal the recomputed ones, and each
       head's root folds out of the stored nodes, so no receipt handed out can mislead;
    4. every head in ``known_heads`` (kept by the auditor from receipts, bundles, checkpoints) is
       still stored, and its root is the root recomputed from the entries at its size.

    Never raises on what the store holds: a row or head it cannot even read is a failure in the
    report (the stage is named), so the auditor always gets the whole FAIL list.
    """
    report = Report()
    stored: list[SignedTreeHead] = []
    try:
        ring = trusted_keys if trusted_keys is not None else heads.keyring()
        stored = list(heads.iter_all())
        report = verify_log(iter_entries(engine), stored, ring, progress, known_heads=known_heads)
    except Exception as exc:  # any unreadable row is evidence of tampering, not a crash
        report.add("log", False, f"the stored log cannot be read: {type(exc).__name__}: {exc}")
    _check_known_heads_stored(report, stored, known_heads)
    try:
        chain = verify_chain(engine)
    except Exception as exc:
        report.add("chain", False, f"the stored rows cannot be read: {type(exc).__name__}: {exc}")
    else:
        for problem in chain.problems[:50]:
            report.add("chain", False, problem)
        if chain.ok:
            report.add("chain", True, f"{chain.checked} entries, hash chain intact (head {chain.head_hex[:16]}…)")
    try:
        _verify_nodes(engine, heads, report)
    except Exception as exc:
        report.add("tree nodes", False, f"the stored tree nodes cannot be read: {type(exc).__name__}: {exc}")
    return report


def audit_store(engine: Engine, heads: HeadService, trust: TrustFile | None, state: AuditState | None,
                known_heads: Sequence[SignedTreeHead] = (), progress: Callable[[int], None] | None = None,
                trusted_keys: LogKeyRing | None = None) -> Report:
    """``lgsp audit verify`` with the auditor's trust file and state file (see :mod:`lgsp.audit.trust`).

    Keys come from the trust file only; the newest stored head needs the trust file's quorum of
    witness cosignatures; the state file's checkpoint must still be in the log (recomputed from the
    entries like any known head) and the log must not have shrunk or forked since.
    """
    from lgsp.audit.checkpoints import cosignature_lines
    from lgsp.audit.keys import key_events

    pre = Report()
    if trust is not None:
        try:
            follow_key_events(pre, trust, key_events(heads))
        except Exception as exc:
            pre.add("key events", False, f"the stored key announcements cannot be read: {exc}")
    ring = trust.ring if trust is not None else trusted_keys
    known = list(known_heads)
    if state is not None and state.head is not None:
        known.append(state.head)
    report = verify_store(engine, heads, progress, ring, known)
    report.checks[:0] = pre.checks
    view = None
    try:
        latest = heads.latest()
        if latest is not None and ring is not None:
            ring.verify(latest)
        view = latest
    except Exception as exc:  # an unreadable or forged head is a failure, not a crash
        report.add("latest head", False, f"the newest stored head does not verify: {exc}")
    origin = trust.origin if trust is not None else None
    if trust is not None:
        try:
            check_untrusted_keys(report, trust, heads.keyring().keys, "store")
            lines = cosignature_lines(engine, view.tree_size) if view is not None else []
        except Exception as exc:
            report.add("witnesses", False, f"the stored keys or cosignatures cannot be read: {exc}")
        else:
            check_quorum(report, trust, view, lines)
    if state is not None:
        check_state(report, state, view, origin)
        finish_state(report, state, view, origin)
    return report


def _check_known_heads_stored(report: Report, stored: Sequence[SignedTreeHead],
                              known_heads: Sequence[SignedTreeHead]) -> None:
    """A head the auditor holds must still be in the store, unchanged: deleting heads is tampering too."""
    by_size = {h.tree_size: h for h in stored}
    latest = max(by_size, default=0)
    for head in known_heads:
        name = f"known head {head.tree_size}"
        match = by_size.get(head.tree_size)
        if match is None:
            why = (f"the newest stored head has size {latest}: the log was rolled back or newer heads deleted"
                   if head.tree_size > latest else "this signed head was deleted from audit_heads")
            report.add(name, False, why)
        elif match.root_hash != head.root_hash:
            report.add(name, False, "the stored head of this size has a different root: history was rewritten")


def _verify_nodes(engine: Engine, heads: HeadService, report: Report, batch: int = 4096) -> None:
    stored_size = heads.tree.size()
    failures: list[str] = []
    frontier: dict[int, bytes] = {}
    size = 0
    with Session(engine) as session:
        leaves = session.execute(select(AuditEntry.idx, AuditEntry.leaf_hash).order_by(AuditEntry.idx)
                                 .execution_options(yield_per=batch))
        chunk: list[bytes] = []
        for row in leaves:
            chunk.append(bytes(row.leaf_hash))
            if len(chunk) == batch:
                failures += _compare_nodes(engine, extend_frontier(frontier, size, chunk))
                size += len(chunk)
                chunk = []
        if chunk:
            failures += _compare_nodes(engine, extend_frontier(frontier, size, chunk))
            size += len(chunk)
    if stored_size != size:
        failures.append(f"audit_tree_nodes holds {stored_size} leaves, the log has {size} entries")
    for new in heads.iter_all():
        try:
            if root_hash(heads.tree, new.tree_size) != new.root_hash:
                failures.append(f"stored nodes do not fold into the root of head {new.tree_size}")
        except KeyError:
            failures.append(f"stored nodes for head {new.tree_size} are missing")
        except ProofError as exc:  # a head larger than the stored tree: entries/nodes were deleted
            failures.append(f"head {new.tree_size}: {exc}")
    for failure in failures[:50]:
        report.add("tree nodes", False, failure)
    if not failures:
        report.add("tree nodes", True, f"stored nodes match the {size} recomputed leaves and every head's root")


def _compare_nodes(engine: Engine, expected: list[tuple[int, int, bytes]]) -> list[str]:
    by_level: dict[int, dict[int, bytes]] = {}
    for level, index, h in expected:
        by_level.setdefault(level, {})[index] = h
    problems = []
    with engine.connect() as conn:
        for level, want in by_level.items():
            rows = conn.execute(select(_NODES.c.idx, _NODES.c.hash).where(
                and_(_NODES.c.level == level, _NODES.c.idx >= min(want), _NODES.c.idx <= max(want)))).all()
            got = {int(r.idx): bytes(r.hash) for r in rows}
            for index, h in want.items():
                if got.get(index) != h:
                    state = "missing" if index not in got else "differs from the entries"
                    problems.append(f"node (level {level}, index {index}) {state}")
    return problems
