"""Build audit export bundles, receipts and consistency files from the log (format: :mod:`lgsp.audit.bundle`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Literal

from lgsp.audit.bundle_format import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    ENTRY_FORMAT,
    BundleError,
    _hexes,
    export_statement,
    sign_statement,
)
from lgsp.audit.canonical import canonical_entry, format_time, pick_entry_fields
from lgsp.audit.merkle import NodeReader, consistency_proof, inclusion_proof, range_proof
from lgsp.audit.sth import LogKeyRing, LogSigner, SignedTreeHead


def build_bundle(
    entries: Iterable[Mapping[str, Any]],
    heads: Iterable[SignedTreeHead],
    tree_store: NodeReader,
    keyring: LogKeyRing,
    *,
    selection: tuple[int, int] | None = None,
    filters: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    proofs: Literal["entry", "range"] = "entry",
    signer: LogSigner | None = None,
    omitted: Iterable[Mapping[str, Any]] | None = None,
    cosignatures: Mapping[int, Sequence[str]] | None = None,
    origin: str | None = None,
    key_events: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Assemble a bundle (a JSON-ready dict) proving ``entries`` against the last of ``heads``.

    ``signer`` (the log key) signs the export *statement*: the selection, the anchor head and a
    digest of the exported (and omitted) leaves, so neither the selection nor the set of entries can
    be edited after export. ``omitted`` = for a filtered export, the range's entries that do *not*
    match the filter, each with its inclusion proof: they prove the export complete.

    ``entries`` are audit rows or canonical dicts in ascending index order (``pick_entry_fields``
    maps store column names). ``selection`` = the index range exported, default: from the first to
    one past the last entry; ``filters`` records the filter used (null means "everything in the
    range", which the verifier then checks for gaps). ``progress(n)`` is called after each entry.

    ``proofs="entry"`` gives each entry its own inclusion proof (~20 hashes at 10**6 entries: a
    bundle any entry of which can be shown alone). ``proofs="range"`` — for large unfiltered
    exports — gives one range proof of O(log n) hashes for the whole contiguous run instead; the
    verifier then rebuilds the root from all the entries.
    """
    if proofs not in ("entry", "range"):
        raise BundleError(f"proofs must be 'entry' or 'range', not {proofs!r}")
    if proofs == "range" and filters:
        raise BundleError("a range proof needs every entry of the range: not possible with a filter")
    extra: dict[str, Any] = {}
    ordered = sorted({h.tree_size: h for h in heads}.values(), key=lambda h: h.tree_size)
    if not ordered:
        raise BundleError("a bundle needs at least one signed head")
    anchor = ordered[-1]
    out_entries: list[dict[str, Any]] = []
    for done, row in enumerate(entries, start=1):
        entry = canonical_entry(pick_entry_fields(row))
        if entry["index"] >= anchor.tree_size:
            raise BundleError(
                f"entry {entry['index']} is not covered by the latest head (size {anchor.tree_size}); "
                "sign a new head before exporting"
            )
        if proofs == "entry":
            proof = inclusion_proof(tree_store, entry["index"], anchor.tree_size)
            inclusion = {"tree_size": anchor.tree_size, "proof": _hexes(proof)}
            out_entries.append({"entry": entry, "inclusion": inclusion})
        else:
            expected = out_entries[0]["entry"]["index"] + len(out_entries) if out_entries else entry["index"]
            if entry["index"] != expected:
                raise BundleError(f"range proof needs consecutive entries: got {entry['index']}, expected {expected}")
            out_entries.append({"entry": entry})
        if progress is not None:
            progress(done)
    out_omitted: list[dict[str, Any]] = []
    for row in omitted or ():
        entry = canonical_entry(pick_entry_fields(row))
        proof = inclusion_proof(tree_store, entry["index"], anchor.tree_size)
        out_omitted.append({"entry": entry, "inclusion": {"tree_size": anchor.tree_size, "proof": _hexes(proof)}})
    if omitted is not None:
        extra["omitted"] = out_omitted
    if cosignatures:
        extra["cosignatures"] = {str(size): list(lines) for size, lines in cosignatures.items() if lines}
    if origin is not None:
        extra["origin"] = origin
    if key_events:
        extra["key_events"] = list(key_events)
    if selection is None:
        first = out_entries[0]["entry"]["index"] if out_entries else 0
        last = out_entries[-1]["entry"]["index"] + 1 if out_entries else 0
        selection = (first, last)
    if proofs == "range" and out_entries:
        left, right = range_proof(tree_store, selection[0], selection[1], anchor.tree_size)
        extra["range_proof"] = {
            "tree_size": anchor.tree_size,
            "from": selection[0],
            "to": selection[1],
            "left": _hexes(left),
            "right": _hexes(right),
        }
    consistency = [
        {
            "from_size": old.tree_size,
            "to_size": new.tree_size,
            "proof": _hexes(consistency_proof(tree_store, old.tree_size, new.tree_size)),
        }
        for old, new in pairwise(ordered)
    ]
    created = format_time(datetime.now(UTC))
    chosen = {"from": selection[0], "to": selection[1], "filter": dict(filters) if filters else None}
    if signer is not None:
        extra["statement"] = sign_statement(signer, export_statement(
            chosen, anchor, created, [item["entry"] for item in out_entries],
            [item["entry"] for item in out_omitted] if omitted is not None else None))
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "entry_format": ENTRY_FORMAT,
        "created_at": created,
        "selection": chosen,
        "keys": [k.to_json() for k in keyring.keys],
        "heads": [h.to_json() for h in ordered],
        "consistency": consistency,
        "entries": out_entries,
        **extra,
    }


def build_consistency(
    old_head: SignedTreeHead, new_head: SignedTreeHead, tree_store: NodeReader, keyring: LogKeyRing,
    signer: LogSigner | None = None, **extra: Any,
) -> dict[str, Any]:
    """Two heads and the proof linking them, no entries: the body of ``GET /audit/consistency``."""
    return build_bundle([], [old_head, new_head], tree_store, keyring, selection=(0, 0), signer=signer, **extra)


def build_receipt(
    entry: Mapping[str, Any], head: SignedTreeHead, tree_store: NodeReader, keyring: LogKeyRing,
    signer: LogSigner | None = None, **extra: Any,
) -> dict[str, Any]:
    """One entry with its inclusion proof against ``head``: the body of ``GET /audit/entries/{i}``."""
    return build_bundle([entry], [head], tree_store, keyring, filters={"receipt": True}, signer=signer, **extra)
