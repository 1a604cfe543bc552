"""The readable copy of an entry in a receipt: it must say what the proven entry says (bundle_verify's step)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lgsp.audit.bundle_format import Report
from lgsp.audit.canonical import ENTRY_FIELDS, CanonicalError, canonical_entry, entry_leaf_hash

#: Store-only columns a receipt repeats at the top level (``GET /audit/entries/{i}``) beside the v1 fields.
_ROW_ONLY_FIELDS = ("leaf_hash", "chain_hash")


def _verify_readable_copy(bundle: Mapping[str, Any], report: Report) -> None:
    """A receipt's top-level copy of its entry must say exactly what the proven entry says.

    Why: ``GET /audit/entries/{i}`` repeats the entry's fields at the top level for reading, and that is
    where a caller looks for ``status`` or ``message_id``. The proofs cover only the copy inside
    ``entries``, so an edited top-level ``status`` (a 403 shown as 200) used to pass as VERIFIED.
    ``chain_hash`` depends on every earlier row and cannot be checked from one file (a note says so).
    """
    shown = [name for name in (*ENTRY_FIELDS, *_ROW_ONLY_FIELDS) if name in bundle]
    if not shown:
        return
    raw = bundle.get("entries")
    try:
        if not isinstance(raw, list) or len(raw) != 1:
            raise ValueError("not exactly one entry")
        entry = canonical_entry(raw[0]["entry"])
    except (ValueError, KeyError, TypeError, CanonicalError):
        report.add("readable copy", False, f"the file repeats entry fields at the top level ({', '.join(shown[:5])}) "
                   "but does not prove exactly one entry they could be a copy of")
        return
    proven: dict[str, Any] = {**entry, "leaf_hash": entry_leaf_hash(entry).hex()}
    differ = [name for name in shown if name != "chain_hash" and bundle[name] != proven[name]]
    if differ:
        report.add("readable copy", False, "the top-level copy of the entry differs from the proven entry in "
                   f"{', '.join(differ)}: read the proven entry in 'entries', not the copy")
    else:
        report.add("readable copy", True, f"the top-level fields equal the proven entry {entry['index']}")
    if "chain_hash" in bundle:
        report.add("chain hash", None, "chain_hash (the store's hash chain) cannot be checked from one file")
