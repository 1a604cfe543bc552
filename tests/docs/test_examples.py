"""Docs that run: every code block of docs/*.md marked runnable is executed against a demo stack.

A block is runnable when the line just before its fence is ``<!-- run -->`` (invisible when rendered);
``<!-- run ckan -->`` says it also needs the open-data portal (the real CKAN of ``var/ckan``, with the
demo's dataset published by the demo's own open-data step). The ``sh``/``bash`` blocks of one page run
first, in order, in one ``bash -euo pipefail`` (so a page may set a variable in one block and use it in
the next); then its ``python`` blocks run in order in one namespace, in the same working directory.
Both see the environment a reader of the docs has after ``lgsp demo``:

- ``LGSP_URL`` — the gateway; ``CLIENT_ID``/``CLIENT_SECRET`` — the demo one-stop-shop system
  (``gateway`` scope); ``AUDITOR_ID``/``AUDITOR_SECRET``; ``ADMIN_ID``/``ADMIN_SECRET``;
- ``PORTAL`` / ``OPENDATA_PORTAL_URL`` — the CKAN portal (pages with ``run ckan`` blocks only);
- the working directory is a scratch folder; ``LGSP_REPO`` is the checkout (for ``schemas/``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.demo_stack import DemoStack

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^<!-- run( ckan)? -->\n```(\w+)[^\n]*\n(.*?)^```", re.M | re.S)
SHELL = {"sh", "bash", "shell"}


@dataclass
class Block:
    page: Path
    line: int
    language: str
    code: str
    needs_ckan: bool


def runnable_blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [Block(page, text.count("\n", 0, m.start()) + 2, m.group(2), m.group(3), bool(m.group(1)))
            for m in FENCE.finditer(text)]


PAGES = [page for page in DOCS if runnable_blocks(page)]


def test_the_marker_is_used_and_understood() -> None:
    """A typo in a marker (or a language the runner does not know) must not silently skip a block."""
    known = SHELL | {"python"}
    for page in DOCS:
        text = page.read_text(encoding="utf-8")
        assert text.count("<!-- run") == len(runnable_blocks(page)), f"{page.name}: a marker not before a fence"
        for block in runnable_blocks(page):
            assert block.language in known, f"{page.name}:{block.line}: cannot run ```{block.language}"
    assert {p.name for p in PAGES} >= {"department-it.md", "open-data.md"}


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_runnable_blocks_of(page: Path, stack: DemoStack, request: pytest.FixtureRequest, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = runnable_blocks(page)
    env = _environment(stack)
    if any(b.needs_ckan for b in blocks):
        env.update(_portal(request))
    work = tmp_path / "work"
    work.mkdir()
    shell = [b for b in blocks if b.language in SHELL]
    if shell:
        script = "\n".join(f"echo '### {page.name}:{b.line}' >&2\n{b.code}" for b in shell)
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == 0, f"{page.name}: shell block failed\n{done.stderr[-6000:]}\n{done.stdout[-3000:]}"
    python = [b for b in blocks if b.language == "python"]
    if python:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(work)
        monkeypatch.syspath_prepend(str(work))  # as `python program.py` run in that folder would have it
        namespace: dict[str, Any] = {"__name__": "__docs__"}
        for block in python:
            code = compile("\n" * (block.line - 1) + block.code, str(page), "exec")
            exec(code, namespace)  # our own documentation, run as a reader would


def _environment(stack: DemoStack) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}", "LGSP_URL": stack.url,
            "LGSP_REPO": str(ROOT), "CLIENT_ID": stack.client.client_id, "CLIENT_SECRET": stack.client.client_secret,
            "AUDITOR_ID": stack.auditor.client_id, "AUDITOR_SECRET": stack.auditor.client_secret,
            "ADMIN_ID": stack.admin.client_id, "ADMIN_SECRET": stack.admin.client_secret}


def _portal(request: pytest.FixtureRequest) -> dict[str, str]:
    """The served CKAN with the demo dataset on it (the fixtures and step of tests/opendata)."""
    from tests.opendata.conftest import run_step

    ckan = request.getfixturevalue("ckan")
    demo = request.getfixturevalue("demo")
    assert "matches the portal's sha256" in run_step(demo)
    return {"PORTAL": ckan.url, "OPENDATA_PORTAL_URL": ckan.url}


def test_the_dataset_entry_shown_in_open_data_md_is_the_demos() -> None:
    """The registry entry of open-data.md §5 cannot be run, so it is compared with the demo's own entry."""
    import yaml

    from lgsp.demo.opendata_step import REGISTRY

    text = (ROOT / "docs" / "open-data.md").read_text(encoding="utf-8")
    [shown] = [yaml.safe_load(m.group(1)) for m in re.finditer(r"```yaml\n(datasets:.*?)```", text, re.S)]
    [demo] = yaml.safe_load(REGISTRY)["datasets"]
    [entry] = shown["datasets"]
    for key, value in entry.items():
        if key == "table_schema":
            assert value == demo["table_schema"], "the Table Schema shown is not the demo's"
        else:
            assert value == demo[key], key
