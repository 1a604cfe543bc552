"""Verify an audit bundle with nothing but the file (and, optionally, the auditor's trusted keys, TSA roots
and heads kept from earlier): signatures, consistency, inclusion or range proofs, the signed export
statement and the selection's completeness. Never raises on bad input; every problem is a failed check.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from lgsp.audit.bundle_copy import _verify_readable_copy
from lgsp.audit.bundle_format import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    ENTRY_FORMAT,
    MAX_FAILURES_LISTED,
    STATEMENT_CONTEXT,
    Report,
    _leaves_digest,
    _parse_hashes,
)
from lgsp.audit.bundle_selection import _check_selection
from lgsp.audit.canonical import CanonicalError, canonical_entry, canonical_leaf_hash, entry_leaf_hash, jcs_bytes
from lgsp.audit.head_order import check_head_order
from lgsp.audit.merkle import ProofError, root_from_range_proof, verify_consistency, verify_inclusion
from lgsp.audit.sth import HeadVerificationError, LogKeyRing, LogPublicKey, SignedTreeHead


def _verify_heads(
    bundle: Mapping[str, Any], report: Report, trusted: LogKeyRing | None
) -> tuple[dict[int, SignedTreeHead], LogKeyRing]:
    """Parse keys and heads, check signatures and order; return the good heads by size."""
    try:
        bundle_ring = LogKeyRing(LogPublicKey.from_json(k) for k in bundle.get("keys") or [])
    except HeadVerificationError as exc:
        report.add("keys", False, f"bundle keys are malformed: {exc}")
        bundle_ring = LogKeyRing()
    if trusted is not None:
        ring = trusted
        report.add("keys", True, f"heads checked against {len(trusted)} trusted key(s) given by the auditor")
    else:
        ring = bundle_ring
        ids = ", ".join(k.key_id for k in bundle_ring.keys) or "none"
        report.add(
            "keys", None,
            f"no trusted keys given: using the bundle's own keys ({ids}); compare these key ids with "
            "GET /audit/keys or the published list, or pass --trusted-keys",
        )
    heads: dict[int, SignedTreeHead] = {}
    raw_heads = bundle.get("heads")
    if not isinstance(raw_heads, list) or not raw_heads:
        report.add("heads", False, "the bundle contains no signed head")
        return heads, ring
    previous = -1
    for position, raw in enumerate(raw_heads):
        try:
            head = SignedTreeHead.from_json(raw)
            ring.verify(head)
        except HeadVerificationError as exc:
            report.add(f"head #{position}", False, str(exc))
            continue
        if head.tree_size <= previous:
            detail = f"heads out of order: size {head.tree_size} after {previous}"
            report.add(f"head #{position}", False, detail)
            continue
        previous = head.tree_size
        heads[head.tree_size] = head
        report.heads_verified += 1
        detail = f"signature valid (key {head.key_id[:16]}…, {head.timestamp})"
        report.add(f"head {head.tree_size}", True, detail)
    return heads, ring


def _verify_consistency(bundle: Mapping[str, Any], report: Report, heads: dict[int, SignedTreeHead]) -> None:
    proofs: dict[tuple[Any, Any], Any] = {}
    for raw in bundle.get("consistency") or []:
        if isinstance(raw, Mapping) and isinstance(raw.get("from_size"), int) and isinstance(raw.get("to_size"), int):
            proofs[(raw.get("from_size"), raw.get("to_size"))] = raw.get("proof")
    sizes = sorted(heads)
    for old, new in pairwise(sizes):
        name = f"consistency {old}→{new}"
        if (old, new) not in proofs:
            report.add(name, False, "no consistency proof between these consecutive heads")
            continue
        try:
            proof = _parse_hashes(proofs[(old, new)], name)
            verify_consistency(old, new, heads[old].root_hash, heads[new].root_hash, proof)
        except ProofError as exc:
            report.add(name, False, f"the log was rewritten or the proof is wrong: {exc}")
        else:
            report.add(name, True, "the later head extends the earlier one (append-only)")


def _verify_timestamps(report: Report, heads: dict[int, SignedTreeHead], tsa_roots: bytes | None) -> None:
    stamped = [h for h in heads.values() if h.tsa_token is not None]
    if not stamped:
        return
    if tsa_roots is None:
        detail = f"{len(stamped)} head(s) carry TSA tokens; not checked (no --tsa-root)"
        report.add("timestamps", None, detail)
        return
    from lgsp.audit.tsa import TimestampError, load_certificates, verify_head_token  # pyHanko only if needed

    try:
        roots = load_certificates(tsa_roots)
    except ValueError as exc:
        report.add("timestamps", False, f"cannot read the TSA root certificate(s): {exc}")
        return
    for head in stamped:
        try:
            verdict = asyncio.run(verify_head_token(head, roots))
        except TimestampError as exc:
            report.add(f"timestamp {head.tree_size}", False, str(exc))
        else:
            detail = f"TSA time {verdict.time.isoformat()} by {verdict.tsa_subject}"
            report.add(f"timestamp {head.tree_size}", True, detail)


def _verify_entries(bundle: Mapping[str, Any], report: Report, heads: dict[int, SignedTreeHead],
                    ring: LogKeyRing, allow_incomplete: bool) -> None:
    raw_entries = bundle.get("entries")
    if not isinstance(raw_entries, list):
        report.add("entries", False, "the bundle has no 'entries' list")
        return
    failures = 0
    seen: list[int] = []
    listed: list[dict[str, Any]] = []  # every parsable entry, in file order (for the signed digest)
    leaves: list[bytes] = []  # their leaf hashes, computed once
    previous = -1

    def fail(name: str, detail: str) -> None:
        nonlocal failures
        failures += 1
        if failures <= MAX_FAILURES_LISTED:
            report.add(name, False, detail)

    in_range: list[tuple[int, bytes]] = []  # entries covered by the bundle's range proof
    for position, item in enumerate(raw_entries):
        name = f"entry #{position}"
        try:
            entry = canonical_entry(item["entry"])
            leaf = canonical_leaf_hash(entry)
            listed.append(entry)
            leaves.append(leaf)
            name = f"entry {entry['index']}"
            if "inclusion" not in item and "range_proof" in bundle:
                if entry["index"] <= previous:
                    fail(name, f"entries out of order: index {entry['index']} after {previous}")
                    continue
                previous = entry["index"]
                seen.append(previous)
                in_range.append((previous, leaf))
                continue
            inclusion = item["inclusion"]
            size = inclusion["tree_size"]
            proof = _parse_hashes(inclusion["proof"], f"{name} inclusion proof")
        except (CanonicalError, ProofError) as exc:
            fail(name, f"malformed: {exc}")
            continue
        except (KeyError, TypeError) as exc:
            fail(name, f"malformed: missing {exc}")
            continue
        index = entry["index"]
        if index <= previous:
            fail(name, f"entries out of order: index {index} after {previous} (reordered or duplicated)")
            continue
        previous = index
        seen.append(index)
        head = heads.get(size)
        if head is None:
            fail(name, f"inclusion proof refers to tree size {size}, but no valid head has that size")
            continue
        try:
            verify_inclusion(index, size, leaf, proof, head.root_hash)
        except ProofError as exc:
            fail(name, f"not in the signed log as shown (altered, moved or proof for another index): {exc}")
            continue
        report.entries_verified += 1
    if in_range and not _verify_range(bundle["range_proof"], in_range, heads, report):
        failures += 1
    if failures > MAX_FAILURES_LISTED:
        report.add("entries", False, f"{failures - MAX_FAILURES_LISTED} more entry failure(s) not listed")
    omitted = _verify_omitted(bundle, report, heads)
    statement_ok = _verify_statement(bundle, report, heads, ring, listed, omitted, leaves)
    _check_selection(bundle, report, listed if failures == 0 else None, omitted, statement_ok, heads, allow_incomplete)
    if failures == 0:
        report.add("entries", True, f"{report.entries_verified} entries are in the signed log, in order")


def _verify_range(
    raw: Any, in_range: list[tuple[int, bytes]], heads: dict[int, SignedTreeHead], report: Report
) -> bool:
    """Rebuild the signed root from the consecutive entries and the range proof's outer hashes."""
    try:
        size, start, end = raw["tree_size"], raw["from"], raw["to"]
        left = _parse_hashes(raw["left"], "range proof (left)")
        right = _parse_hashes(raw["right"], "range proof (right)")
    except (KeyError, TypeError, ProofError) as exc:
        report.add("range proof", False, f"malformed: {exc}")
        return False
    indexes = [i for i, _ in in_range]
    if indexes != list(range(start, end)):
        gaps = sorted(set(range(start, end)) - set(indexes))[:5]
        report.add("range proof", False, f"the entries are not exactly [{start}, {end}): e.g. missing {gaps}")
        return False
    head = heads.get(size)
    if head is None:
        report.add("range proof", False, f"refers to tree size {size}, but no valid head has that size")
        return False
    try:
        root = root_from_range_proof(start, size, [leaf for _, leaf in in_range], left, right)
    except ProofError as exc:
        report.add("range proof", False, str(exc))
        return False
    if root != head.root_hash:
        report.add("range proof", False, f"entries [{start}, {end}) do not rebuild the root of head {size}: "
                   "an entry was altered, moved, added or removed")
        return False
    report.entries_verified += len(in_range)
    report.add("range proof", True, f"entries [{start}, {end}) rebuild the signed root of size {size}")
    return True


def _verify_omitted(
    bundle: Mapping[str, Any], report: Report, heads: dict[int, SignedTreeHead]
) -> list[dict[str, Any]] | None:
    """The entries a filtered export left out, each proven in the log (None: the bundle shows none)."""
    raw = bundle.get("omitted")
    if raw is None:
        return None
    if not isinstance(raw, list):
        report.add("omitted", False, "'omitted' must be a list")
        return []
    out: list[dict[str, Any]] = []
    for position, item in enumerate(raw):
        try:
            entry = canonical_entry(item["entry"])
            size = item["inclusion"]["tree_size"]
            proof = _parse_hashes(item["inclusion"]["proof"], "omitted entry inclusion proof")
            head = heads.get(size) if isinstance(size, int) else None
            if head is None:
                raise ProofError(f"inclusion proof refers to tree size {size!r}, but no valid head has that size")
            verify_inclusion(entry["index"], size, entry_leaf_hash(entry), proof, head.root_hash)
        except (CanonicalError, ProofError, KeyError, TypeError) as exc:
            report.add(f"omitted #{position}", False, f"not proven in the signed log: {exc}")
            continue
        out.append(entry)
    return out


def _verify_statement(
    bundle: Mapping[str, Any], report: Report, heads: dict[int, SignedTreeHead], ring: LogKeyRing,
    listed: Sequence[Mapping[str, Any]], omitted: Sequence[Mapping[str, Any]] | None,
    leaves: Sequence[bytes] | None = None,
) -> bool:
    """The log key's signed export statement must match the selection, the latest head and the entries."""
    raw = bundle.get("statement")
    if not isinstance(raw, Mapping):
        report.add("statement", False, "the selection is not signed (no export statement): it could have "
                   "been edited, and entries deleted, after export")
        return False
    body = {k: v for k, v in raw.items() if k not in ("key_id", "signature")}
    try:
        signature = base64.b64decode(str(raw.get("signature")), validate=True)
        ring.verify_bytes(str(raw.get("key_id")), signature, jcs_bytes(body), "export statement")
    except (ValueError, HeadVerificationError) as exc:
        report.add("statement", False, f"the export statement is not validly signed: {exc}")
        return False
    problems = []
    if body.get("context") != STATEMENT_CONTEXT:
        problems.append(f"context is {body.get('context')!r}, not {STATEMENT_CONTEXT}")
    if body.get("selection") != bundle.get("selection"):
        problems.append(f"the bundle's selection {bundle.get('selection')} was edited: the log signed "
                        f"{body.get('selection')}")
    latest = heads[max(heads)] if heads else None
    want_head = {"tree_size": latest.tree_size, "root_hash": latest.root_hash.hex()} if latest else None
    if body.get("head") != want_head:
        problems.append(f"signed for head {body.get('head')}, but the bundle's latest verified head is {want_head}")
    entries = {"count": len(listed), "leaves_sha256": _leaves_digest(listed, leaves)}
    if body.get("entries") != entries:
        signed = body.get("entries") or {}
        problems.append(f"the bundle's {len(listed)} entries are not the {signed.get('count')} the log signed "
                        "for this export (entries deleted, added or swapped)")
    shown = None if omitted is None else {"count": len(omitted), "leaves_sha256": _leaves_digest(omitted)}
    if body.get("omitted") != shown:
        problems.append("the omitted entries are not the ones the log signed for this export")
    for problem in problems:
        report.add("statement", False, problem)
    if not problems:
        report.add("statement", True, f"selection, latest head and the {len(listed)} entries are as signed at "
                   f"export ({body.get('created_at')}, key {str(raw.get('key_id'))[:16]}…)")
    return not problems


def _verify_known_heads(
    report: Report, heads: dict[int, SignedTreeHead], known: Sequence[SignedTreeHead], ring: LogKeyRing | None
) -> list[SignedTreeHead]:
    """Heads the auditor kept from earlier (receipts): each must be the bundle's head of that size.
    Returns those whose signature verifies (for the order check).

    Together with the consistency chain this shows the log the auditor saw then is a prefix of the
    log shown now; a rewritten history cannot produce the same root at the same size.
    """
    verified: list[SignedTreeHead] = []
    for head in known:
        name = f"known head {head.tree_size}"
        try:
            if ring is not None:
                ring.verify(head)
        except HeadVerificationError as exc:
            report.add(name, False, f"the head you kept does not verify: {exc}")
            continue
        verified.append(head)
        match = heads.get(head.tree_size)
        if match is None:
            report.add(
                name, False,
                f"this file has no verified head of size {head.tree_size}; ask for "
                f"GET /audit/consistency?from={head.tree_size}&to=<latest> and verify that file",
            )
        elif match.root_hash != head.root_hash:
            report.add(name, False, "the log shown now has a different root at this size: history was rewritten")
        else:
            report.add(name, True, "the head you kept is part of this log's verified chain")
    return verified


def verify_bundle(
    bundle: Any,
    trusted_keys: LogKeyRing | None = None,
    tsa_roots: bytes | None = None,
    known_heads: Sequence[SignedTreeHead] = (),
    allow_incomplete: bool = False,
) -> Report:
    """Check everything a bundle claims; never raises on bad input, reports it instead.

    ``allow_incomplete`` turns "a filtered export whose completeness is not provable" from a
    failure into a note (the auditor accepts a partial view knowingly).

    Synchronous (TSA checks run their own event loop): from async code call it via
    ``asyncio.to_thread``.

    ``known_heads`` are heads the auditor obtained earlier (e.g. in receipts); see
    :func:`_verify_known_heads`.
    """
    report = Report()
    try:
        _verify_bundle(report, bundle, trusted_keys, tsa_roots, known_heads, allow_incomplete)
    except Exception as exc:  # a malformed file must end in the FAIL list, never a traceback
        report.add("bundle", False, f"malformed content stopped the verification: {type(exc).__name__}: {exc}")
    return report


def _verify_bundle(
    report: Report,
    bundle: Any,
    trusted_keys: LogKeyRing | None,
    tsa_roots: bytes | None,
    known_heads: Sequence[SignedTreeHead],
    allow_incomplete: bool,
) -> Report:
    if not isinstance(bundle, Mapping):
        report.add("format", False, "a bundle is a JSON object")
        return report
    if (bundle.get("format"), bundle.get("version")) != (BUNDLE_FORMAT, BUNDLE_VERSION):
        report.add("format", False, f"not an {BUNDLE_FORMAT} v{BUNDLE_VERSION} file")
        return report
    if bundle.get("entry_format") != ENTRY_FORMAT:
        report.add("format", False, f"entry format {bundle.get('entry_format')!r} is not {ENTRY_FORMAT}")
        return report
    report.add("format", True, f"{BUNDLE_FORMAT} v{BUNDLE_VERSION}, entries {ENTRY_FORMAT}")
    heads, ring = _verify_heads(bundle, report, trusted_keys)
    _verify_consistency(bundle, report, heads)
    _verify_timestamps(report, heads, tsa_roots)
    _verify_entries(bundle, report, heads, ring, allow_incomplete)
    _verify_readable_copy(bundle, report)
    kept = _verify_known_heads(report, heads, known_heads, ring) if known_heads else []
    check_head_order(report, [("head", h) for h in heads.values()] + [("known head", h) for h in kept])
    return report
