"""The agency hierarchy as a flat run of open/close steps, so the registry page renders it without recursion.

A recursive template macro needed several Python frames per level: a hierarchy a few hundred agencies deep
(nothing refuses one) raised RecursionError, and the registry page, where the editor to repair it lives,
was a 500 for everyone.
"""

from __future__ import annotations

from typing import Any


def agency_tree(agencies: list[Any]) -> list[tuple[str, Any]]:
    """Steps ``("ul", None)``, ``("li", agency)``, ``("/li", None)``, ``("/ul", None)`` in document order.

    Roots are agencies without a parent in the list; any agency not reached from them (a cycle, which the
    registry refuses at write time) is shown as a root too rather than dropped."""
    codes = {a.code for a in agencies}
    children: dict[str | None, list[Any]] = {}
    for agency in agencies:
        children.setdefault(agency.parent if agency.parent in codes else None, []).append(agency)
    steps: list[tuple[str, Any]] = [("ul", None)]
    seen: set[str] = set()
    for root in children.get(None, []) + agencies:  # the roots, then whatever they did not reach
        if root.code in seen:
            continue
        stack: list[tuple[str, Any]] = [("node", root)]
        while stack:
            kind, agency = stack.pop()
            if kind != "node":
                steps.append((kind, None))
            elif agency.code not in seen:
                seen.add(agency.code)
                steps.append(("li", agency))
                stack.append(("/li", None))
                below = [a for a in children.get(agency.code, []) if a.code not in seen]
                if below:
                    steps.append(("ul", None))
                    stack.append(("/ul", None))
                    stack.extend(("node", a) for a in reversed(below))
    steps.append(("/ul", None))
    return steps
