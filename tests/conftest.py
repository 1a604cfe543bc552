"""Suite-wide collection rules: which tests must share one pytest-xdist worker.

Why: `scripts/test.sh` runs the suite on two xdist workers to stay inside CI's time budget, with
``--dist loadgroup``. Every test stays with the others of its file, in file order: many files share a
module-scoped stack whose state one test leaves for the next (a quota used up, calls made before a page
is read). Tests that use the one served CKAN (`var/ckan`, started once per session by
`tests/opendata/conftest.py`) all run in one worker, or two workers would each start, fill and at the
end stop the same portal.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).parent
SHARES_THE_SERVED_CKAN = (TESTS / "opendata", TESTS / "docs")


def worker_group(item: pytest.Item) -> str:
    """The xdist group of ``item``: the served CKAN's, or its own file's."""
    if "ckan" in getattr(item, "fixturenames", ()) or any(
        folder in item.path.parents for folder in SHARES_THE_SERVED_CKAN
    ):
        return "served-ckan"
    return item.path.relative_to(TESTS).as_posix()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(worker_group(item)))
