"""The shape of the code (docs/architecture.md): no import circles, a bottom that imports nothing of ours,
modules of a readable size. The layer contracts themselves are in `.importlinter` (`lint-imports` in CI);
these are the rules import-linter has no contract type for.

Imports count wherever they are written (a function-level import is still a dependency); only imports
under ``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lgsp", "registry", "signing", "adapters")
#: May be imported by every layer, so they import nothing of ours (but signing's XML bounds, itself at the bottom).
BOTTOM = {"lgsp.safexml": {"signing.xmlbounds"}, "lgsp.agency_ids": set(), "signing.xmlbounds": set()}
MAX_LINES = 400
#: A longer module says why in its first lines, with a comment starting like this.
SIZE_REASON = "# size:"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_cycle_finder_finds_a_planted_cycle() -> None:
    planted = grimp.ImportGraph()
    for name in ("p", "p.a", "p.b", "p.c", "p.d"):
        planted.add_module(name)
    planted.add_import(importer="p.a", imported="p.b")
    planted.add_import(importer="p.b", imported="p.c")
    planted.add_import(importer="p.c", imported="p.a")
    planted.add_import(importer="p.d", imported="p.a")
    assert import_cycles(planted) == [["p.a", "p.b", "p.c"]]


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    cycles = import_cycles(graph)
    assert not cycles, "import circles (break each by moving the shared piece down a layer):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in cycles)


@pytest.mark.parametrize("module", sorted(BOTTOM))
def test_bottom_modules_import_nothing_of_ours(graph: grimp.ImportGraph, module: str) -> None:
    ours = {m for m in graph.find_modules_directly_imported_by(module) if m.split(".")[0] in PACKAGES}
    assert ours <= BOTTOM[module], f"{module} must stay at the bottom; it imports {sorted(ours - BOTTOM[module])}"


def test_modules_stay_readable() -> None:
    too_long = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = path.read_text(encoding="utf-8").splitlines()
            if len(lines) > MAX_LINES and not any(line.startswith(SIZE_REASON) for line in lines[:30]):
                too_long.append(f"{path.relative_to(ROOT)}: {len(lines)} lines")
    assert not too_long, (f"modules above {MAX_LINES} lines without a '{SIZE_REASON} <reason>' comment "
                          "in their first 30 lines:\n" + "\n".join(too_long))
