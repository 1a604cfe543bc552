"""What a bundle's declared selection implies: which indexes must be present, and whether a filtered export
proves itself complete (the exported entries match the filter, the omitted ones are shown not to).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lgsp.audit.bundle_format import Report
from lgsp.audit.sth import SignedTreeHead


def _ranges(indexes: Sequence[int], limit: int = 5) -> str:
    """``[3, 7), [9, 10)``: ascending missing indexes as half-open ranges, the first ``limit`` of them."""
    runs: list[list[int]] = []
    for i in indexes:
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    more = f" and {len(runs) - limit} more range(s)" if len(runs) > limit else ""
    return ", ".join(f"[{a}, {b})" for a, b in runs[:limit]) + more


def entry_matches(entry: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    """Whether a canonical entry satisfies an export filter (the semantics of ``lgsp audit export``)."""
    for name in ("client", "service", "user_id", "message_id", "status"):
        if name in filters and entry.get(name) != filters[name]:
            return False
    when = _parse_time(entry["time"])
    if "since" in filters and when < _parse_time(filters["since"]):
        return False
    return not ("until" in filters and when >= _parse_time(filters["until"]))


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _check_selection(
    bundle: Mapping[str, Any], report: Report, listed: Sequence[Mapping[str, Any]] | None,
    omitted: Sequence[Mapping[str, Any]] | None, signed: bool, heads: dict[int, SignedTreeHead],
    allow_incomplete: bool,
) -> None:
    """What the selection and the latest head imply about which entries must be in the file."""
    selection = bundle.get("selection")
    if not isinstance(selection, Mapping):
        report.add("selection", False, "the bundle does not declare which indexes it covers")
        return
    start, end, filters = selection.get("from"), selection.get("to"), selection.get("filter")
    if not isinstance(start, int) or not isinstance(end, int) or (filters is not None
                                                                  and not isinstance(filters, Mapping)):
        report.add("selection", False, "selection.from/to must be integers and filter an object or null")
        return
    if listed is None:
        return  # entry failures already listed; completeness would only repeat them
    seen = [e["index"] for e in listed]
    latest = max(heads) if heads else 0
    if end > latest:
        report.add("selection", False, f"the selection runs to {end}, but the latest verified head covers only "
                   f"{latest} entries: entries [{latest}, {end}) are not covered by any head")
        return
    if signed and latest > end and not filters:
        report.add("tail", None, f"the latest head covers {latest} entries; this export stops at {end} by its "
                   f"signed selection: entries [{end}, {latest}) are not in this file")
    outside = [i for i in seen if not start <= i < end]
    if not seen and start == end:
        report.add("selection", True, "no entries: this file proves heads and their consistency only")
    elif outside:
        detail = f"entries {outside[:5]} lie outside the declared range [{start}, {end})"
        report.add("selection", False, detail)
    elif filters == {"receipt": True}:
        report.add("selection", True, f"receipt for entr{'y' if len(seen) == 1 else 'ies'} {seen[:5]}")
    elif filters:
        _check_filtered(report, dict(filters), start, end, listed, omitted, allow_incomplete)
    else:
        present = set(seen)
        gaps = [i for i in range(start, end) if i not in present]
        if gaps:
            report.add("selection", False, f"{len(gaps)} entr(y/ies) missing from [{start}, {end}): {_ranges(gaps)}")
        else:
            report.add("selection", True, f"every index in [{start}, {end}) is present")


def _check_filtered(report: Report, filters: dict[str, Any], start: int, end: int,
                    listed: Sequence[Mapping[str, Any]], omitted: Sequence[Mapping[str, Any]] | None,
                    allow_incomplete: bool) -> None:
    try:
        wrong = [e["index"] for e in listed if not entry_matches(e, filters)]
        shown_out = [e["index"] for e in omitted or () if entry_matches(e, filters)]
    except (KeyError, TypeError, ValueError) as exc:
        report.add("selection", False, f"the filter {filters} cannot be applied: {exc}")
        return
    if wrong:
        report.add("selection", False, f"entries {wrong[:5]} do not match the export's filter {filters}")
        return
    if omitted is None:
        detail = (f"filtered export {filters}: completeness of the selection is not provable (the file does not "
                  "show the entries it omits)")
        if allow_incomplete:
            report.add("selection", None, detail + "; accepted with --allow-incomplete")
        else:
            report.add("selection", False, detail + "; re-export with --prove-omissions, or pass --allow-incomplete")
        return
    if shown_out:
        report.add("selection", False, f"entries {shown_out[:5]} were left out but match the filter {filters}")
        return
    present = {e["index"] for e in listed} | {e["index"] for e in omitted}
    gaps = [i for i in range(start, end) if i not in present]
    if gaps:
        report.add("selection", False, f"{len(gaps)} index(es) of [{start}, {end}) neither exported nor shown "
                   f"omitted: {_ranges(gaps)}")
    else:
        report.add("selection", True, f"complete: {len(listed)} entries match {filters}, the other "
                   f"{len(omitted)} of [{start}, {end}) are shown not to")
