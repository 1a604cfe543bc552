"""Self-contained audit export bundles: build one from the log, verify one with nothing else.

Why a bundle: an auditor (inspectorate, court, the other department) must check the evidence on
their own machine, without our database, network or goodwill. A bundle carries every entry's
canonical fields, the signed heads, an inclusion proof per entry, consistency proofs chaining the
heads, and the log's public keys. Verifying needs only :mod:`lgsp.audit.merkle`,
:mod:`lgsp.audit.canonical` and :mod:`lgsp.audit.sth` (plus pyHanko if TSA tokens are checked).

Format (JSON, ``"format": "lgsp-audit-bundle", "version": 1``)::

    created_at, entry_format: "audit-entry-v1",
    selection: {from, to, filter}   # indexes [from, to); filter null => every index is present
    keys: [GET /audit/keys items], heads: [signed heads, ascending tree_size],
    consistency: [{from_size, to_size, proof: [hex]}]   # one per pair of consecutive heads
    entries: [{entry: {canonical v1 fields}, inclusion: {tree_size, proof: [hex]}}]  # ascending index

A *receipt* (what ``GET /audit/entries/{index}`` returns) is the same format with one entry and
one head, so the same verifier checks both.

The parts, one job each: :mod:`~lgsp.audit.bundle_format` (names, the signed export statement, the
report), :mod:`~lgsp.audit.bundle_build`, :mod:`~lgsp.audit.bundle_verify` (with
:mod:`~lgsp.audit.bundle_selection` for completeness) and :mod:`~lgsp.audit.log_recompute`
(``verify_log``). This module is the stable import path for all of them.
"""

from __future__ import annotations

from lgsp.audit.bundle_build import build_bundle, build_consistency, build_receipt
from lgsp.audit.bundle_format import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    ENTRY_FORMAT,
    MAX_FAILURES_LISTED,
    STATEMENT_CONTEXT,
    BundleError,
    Check,
    Report,
    export_statement,
    sign_statement,
)
from lgsp.audit.bundle_selection import entry_matches
from lgsp.audit.bundle_verify import verify_bundle
from lgsp.audit.log_recompute import verify_log

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "ENTRY_FORMAT",
    "MAX_FAILURES_LISTED",
    "STATEMENT_CONTEXT",
    "BundleError",
    "Check",
    "Report",
    "build_bundle",
    "build_consistency",
    "build_receipt",
    "entry_matches",
    "export_statement",
    "sign_statement",
    "verify_bundle",
    "verify_log",
]
