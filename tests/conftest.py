"""Suite-wide fixtures.

Why: `scripts/test_units.py` runs the suite as several sessions, so a test no longer finds what some
test of another folder happened to leave behind in the process. The CLI's rich consoles are made once
per process, at the width of the environment of their first use: a table printed by a test that sets
``COLUMNS`` came out cut at whatever width an earlier, unrelated test left. Each test now gets consoles
made under its own environment.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lgsp.cli import common


@pytest.fixture(autouse=True)
def fresh_cli_consoles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for console in (common.console, common.err_console):
        monkeypatch.setattr(console, "_console", None)
    yield
