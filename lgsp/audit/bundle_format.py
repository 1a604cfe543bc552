"""The audit bundle's wire format and the verdict type: names and versions, the export statement the log key
signs, hex hashes, and the :class:`Report` every verifier fills.

Shared by the builder (:mod:`lgsp.audit.bundle_build`) and the verifiers (:mod:`lgsp.audit.bundle_verify`,
:mod:`lgsp.audit.log_recompute`) so both sides agree on one definition; see :mod:`lgsp.audit.bundle`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lgsp.audit.canonical import entry_leaf_hash, jcs_bytes
from lgsp.audit.merkle import ProofError
from lgsp.audit.sth import LogSigner, SignedTreeHead

BUNDLE_FORMAT = "lgsp-audit-bundle"

BUNDLE_VERSION = 2

ENTRY_FORMAT = "audit-entry-v1"

STATEMENT_CONTEXT = "lgsp-audit-export-v1"


class BundleError(ValueError):
    """A bundle cannot be built from what was given (e.g. no head covers the entries)."""


def _hexes(hashes: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def _leaves_digest(entries: Sequence[Mapping[str, Any]], leaves: Sequence[bytes] | None = None) -> str:
    """SHA-256 over the entries' leaf hashes in order (``leaves``: already computed, in the same order)."""
    digest = hashlib.sha256()
    for leaf in leaves if leaves is not None else (entry_leaf_hash(e) for e in entries):
        digest.update(leaf)
    return digest.hexdigest()


def export_statement(selection: Mapping[str, Any], anchor: SignedTreeHead, created_at: str,
                     entries: Sequence[Mapping[str, Any]],
                     omitted: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """What the log key vouches for about one export (see :data:`STATEMENT_CONTEXT`).

    Binding the selection to the anchor head's size and root, and to a digest of the leaves in
    order, means a deleted, added or swapped entry, an edited ``selection`` or a different head
    all break the statement's signature; the head itself is separately signed (and witnessed).
    """
    return {
        "context": STATEMENT_CONTEXT,
        "selection": dict(selection),
        "head": {"tree_size": anchor.tree_size, "root_hash": anchor.root_hash.hex()},
        "created_at": created_at,
        "entries": {"count": len(entries), "leaves_sha256": _leaves_digest(entries)},
        "omitted": None if omitted is None else {"count": len(omitted), "leaves_sha256": _leaves_digest(omitted)},
    }


def sign_statement(signer: LogSigner, statement: dict[str, Any]) -> dict[str, Any]:
    signature = signer.sign_bytes(jcs_bytes(statement))
    return {**statement, "key_id": signer.key_id, "signature": base64.b64encode(signature).decode("ascii")}


@dataclass
class Check:
    """One verification step. ``ok`` None means "not checked" (a warning, not a failure)."""

    name: str
    ok: bool | None
    detail: str


@dataclass
class Report:
    """The outcome of :func:`verify_bundle`: passed only if no check failed."""

    checks: list[Check] = field(default_factory=list)
    entries_verified: int = 0
    heads_verified: int = 0

    @property
    def passed(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def add(self, name: str, ok: bool | None, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]


MAX_FAILURES_LISTED = 50


def _parse_hashes(values: Any, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise ProofError(f"{what} must be a list of hex hashes")
    try:
        return [bytes.fromhex(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise ProofError(f"{what} contains something that is not hex") from exc
