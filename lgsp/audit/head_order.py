"""Heads' timestamps never decrease with tree size: a check shared by both verifiers.

Why: a head's ``timestamp`` is its signer's own claim, and a key is refused only for heads dated after
its retirement. So an insider who obtains a *retired* log key could sign a head for a rewritten log and
date it inside the old key's validity window. An honest log cannot produce such a head next to its
real ones: :class:`lgsp.audit.heads.HeadService` signs each head under the lock that orders the stored
heads, never dated before the newest one. So a head dated earlier than a *smaller* head — in the store,
in a bundle, or among the heads the auditor kept (state file, ``--known-head``) — is a failure that
names both heads. Equal timestamps are allowed (a coarse or clamped clock).
"""

from __future__ import annotations

from collections.abc import Iterable

from lgsp.audit.bundle_format import Report
from lgsp.audit.sth import SignedTreeHead

__all__ = ["check_head_order"]


def check_head_order(report: Report, heads: Iterable[tuple[str, SignedTreeHead]]) -> None:
    """Fail every head dated before a head of a smaller tree size; ``heads`` are (label, verified head).

    Each head is compared with the latest-dated head of all smaller sizes, so one backdated head in
    the middle is caught even if its neighbours are in order. Heads of the same size are not compared
    with each other (their roots are, elsewhere).
    """
    ordered = sorted(heads, key=lambda item: item[1].tree_size)
    latest: tuple[str, SignedTreeHead] | None = None  # the latest-dated head among strictly smaller sizes
    group: list[tuple[str, SignedTreeHead]] = []
    failures = 0

    def close_group() -> None:
        nonlocal latest
        for item in group:
            if latest is None or item[1].timestamp > latest[1].timestamp:
                latest = item

    for label, head in ordered:
        if group and head.tree_size != group[0][1].tree_size:
            close_group()
            group = []
        group.append((label, head))
        if latest is not None and head.timestamp < latest[1].timestamp:
            failures += 1
            earlier_label, earlier = latest
            report.add(f"{label} {head.tree_size}", False,
                       f"{label} of size {head.tree_size} is dated {head.timestamp}, before {earlier_label} of "
                       f"smaller size {earlier.tree_size} dated {earlier.timestamp}: an honest log never dates a "
                       "larger head earlier; this one was backdated (e.g. signed later with a retired key)")
    if failures == 0 and len(ordered) > 1:
        report.add("head order", True, f"{len(ordered)} heads: timestamps never decrease with tree size")
