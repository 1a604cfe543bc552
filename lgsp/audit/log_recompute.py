"""Recompute the whole log's tree from the stored entries and check every signed head against it (for
``lgsp audit verify``). Pure: the caller streams the rows, so this runs without the database layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from lgsp.audit.bundle_format import MAX_FAILURES_LISTED, Report
from lgsp.audit.canonical import CanonicalError, canonical_entry, entry_leaf_hash, pick_entry_fields
from lgsp.audit.head_order import check_head_order
from lgsp.audit.merkle import EMPTY_ROOT, extend_frontier, frontier_root
from lgsp.audit.sth import HeadVerificationError, LogKeyRing, SignedTreeHead


def verify_log(
    entries: Iterable[Mapping[str, Any]],
    heads: Iterable[SignedTreeHead],
    keyring: LogKeyRing,
    progress: Callable[[int], None] | None = None,
    known_heads: Sequence[SignedTreeHead] = (),
) -> Report:
    """Recompute the tree from *all* entries (index order) and check every head against it.

    ``known_heads`` (heads the auditor kept) are checked the same way, against the recomputed
    root at their size; one larger than the log names the entries that are gone. No head, stored or
    kept, may be dated before a smaller one (:mod:`lgsp.audit.head_order`).

    Streams: memory is O(log n), so it runs over 10**6 rows from a server-side cursor. Trusts no
    stored tree node: leaves come from the entries themselves. A row carrying ``leaf_hash`` (the
    store's column) is also checked against the recomputed leaf, which pinpoints an edited row.
    """
    report = Report()
    by_size: dict[int, list[SignedTreeHead]] = {}
    for head in heads:
        try:
            keyring.verify(head)
        except HeadVerificationError as exc:
            report.add(f"head {head.tree_size}", False, str(exc))
            continue
        by_size.setdefault(head.tree_size, []).append(head)
        report.heads_verified += 1
    known: dict[int, list[SignedTreeHead]] = {}
    for head in known_heads:
        try:
            keyring.verify(head)
        except HeadVerificationError as exc:
            report.add(f"known head {head.tree_size}", False, f"the head you kept does not verify: {exc}")
            continue
        known.setdefault(head.tree_size, []).append(head)
    check_head_order(report, [("head", h) for hs in by_size.values() for h in hs]
                     + [("known head", h) for hs in known.values() for h in hs])
    for head in by_size.pop(0, []):
        ok = head.root_hash == EMPTY_ROOT
        report.add("head 0", ok, "empty tree" if ok else "head of size 0 with a non-empty root")
    frontier: dict[int, bytes] = {}
    size = 0
    failures = 0
    for row in entries:
        try:
            entry = canonical_entry(pick_entry_fields(row))
        except CanonicalError as exc:
            failures += 1
            report.add(f"entry {row.get('idx', row.get('index'))}", False, f"not a valid v1 entry: {exc}")
            break
        if entry["index"] != size:
            failures += 1
            report.add(
                f"entry {entry['index']}", False,
                f"expected index {size}: entries were deleted, duplicated or reordered",
            )
            break
        leaf = entry_leaf_hash(entry)
        stored = row.get("leaf_hash")
        if stored is not None and bytes(stored) != leaf and failures < MAX_FAILURES_LISTED:
            failures += 1
            report.add(f"entry {size}", False, "the row no longer matches the leaf hash it was integrated with")
        extend_frontier(frontier, size, [leaf])
        size += 1
        report.entries_verified += 1
        for head in by_size.pop(size, []):
            if head.root_hash == frontier_root(frontier):
                report.add(f"head {size}", True, f"root matches the {size} entries (key {head.key_id[:16]}…)")
            else:
                failures += 1
                report.add(f"head {size}", False, "root differs from the entries: the log was altered")
        for head in known.pop(size, []):
            if head.root_hash == frontier_root(frontier):
                report.add(f"known head {size}", True, "the head you kept matches the entries recomputed now")
            else:
                failures += 1
                report.add(f"known head {size}", False,
                           "the entries recomputed now have a different root at this size: history was rewritten")
        if progress is not None:
            progress(size)
    for missing_size in sorted(by_size):
        report.add(f"head {missing_size}", False, f"signed head of size {missing_size}, but only {size} entries: "
                   f"entries [{size}, {missing_size}) are missing")
    for missing_size in sorted(known):
        report.add(f"known head {missing_size}", False, f"the head you kept covers {missing_size} entries, the "
                   f"log now has {size}: entries [{size}, {missing_size}) were deleted or the log rolled back")
    if report.passed:
        report.add("log", True, f"{size} entries recomputed; every signed head matches")
    return report
