"""The Python examples of docs/open-data.md run against the demo's dataset: the demo's own open-data step
(demo registry, demo air-quality service, gateway) publishes it to the served CKAN first."""

from __future__ import annotations

import re

import pytest

from .conftest import ROOT, Ckan, Demo, run_step

DOC = ROOT / "docs" / "open-data.md"


def test_python_examples_in_the_docs_run(ckan: Ckan, demo: Demo, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert "matches the portal's sha256" in run_step(demo)

    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 3
    monkeypatch.setenv("OPENDATA_PORTAL_URL", ckan.url)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # our own documentation
    out = capsys.readouterr().out
    assert "datasets in the DCAT catalogue" in out and "publisher id: 000.00.25.H10" in out
    assert "CT-NK-01 2026-11-25T00:00:00+07:00 PM2.5 = 18.0" in out
