"""The Python examples of docs/open-data.md run against the demo dataset on the served CKAN."""

from __future__ import annotations

import dataclasses
import re

import pytest

from lgsp.opendata import DatasetSpec, PipelineConfig, run_dataset

from .conftest import ROOT, Ckan

DOC = ROOT / "docs" / "open-data.md"


async def test_python_examples_in_the_docs_run(ckan: Ckan, spec: DatasetSpec, config: PipelineConfig,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    demo = dataclasses.replace(spec, slug="can-tho-air-quality")  # the demo's own slug, as documented
    result = await run_dataset(demo, config)
    assert result.status in {"created", "updated", "unchanged"}, result.message

    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 3
    monkeypatch.setenv("OPENDATA_PORTAL_URL", ckan.url)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # our own documentation
    out = capsys.readouterr().out
    assert "datasets in the DCAT catalogue" in out and "publisher id: 000.00.12.H10" in out
