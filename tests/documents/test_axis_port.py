"""The façade is generic over the document axis: found through the vdxp adapter's entry point only, and a
clear 503 (never a 500) when no axis, or more than one, is installed."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import lgsp.adapters
from adapters.vdxp.edxml import write_document
from lgsp.adapters import AdapterInfo, discover, get, parts
from lgsp.sdk.documents import AxisNotConfigured, DocumentAxis
from lgsp.settings import Settings
from lgsp.worker import plugin_jobs
from tests.documents.conftest import Stack, document

ROOT = Path(__file__).parents[2]
PROBLEM = "https://lgsp.dev/problems/"
VDXP_ENV = ("LGSP_VDXP_URL", "LGSP_VDXP_SYSTEM_ID", "LGSP_VDXP_SECRET", "LGSP_VDXP_SECRET_FILE")


def _installed(monkeypatch: pytest.MonkeyPatch, adapters: dict[str, AdapterInfo]) -> None:
    monkeypatch.setattr(lgsp.adapters, "discover", lambda: adapters)


def _refused_without_a_queue_entry(docs: Stack, monkeypatch: pytest.MonkeyPatch, adapters: dict[str, AdapterInfo],
                                   says: str) -> None:
    state = docs.app.api.state
    kept = getattr(state, "document_axis", None)  # found once per app: forget it for this test
    if kept is not None:
        del state.document_axis
    _installed(monkeypatch, adapters)
    before = docs.outbox_count()
    try:
        reply = docs.post_xml(write_document(document()))
    finally:
        monkeypatch.undo()
        if kept is not None:
            state.document_axis = kept
    assert reply.status_code == 503, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["type"] == PROBLEM + "not-configured" and says in reply.json()["detail"]
    assert docs.outbox_count() == before
    assert docs.post_xml(write_document(document())).status_code == 202  # the real axis is found again


def test_no_axis_installed_is_a_503(docs: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    others = {name: info for name, info in discover().items() if not info.document_axis}
    _refused_without_a_queue_entry(docs, monkeypatch, others, "no document axis adapter is installed")


def test_two_axes_installed_is_a_503(docs: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    twin = dataclasses.replace(get("vdxp"), name="vdxp2")
    _refused_without_a_queue_entry(docs, monkeypatch, {**discover(), "vdxp2": twin}, "vdxp, vdxp2")


def test_a_broken_axis_is_a_503(docs: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = dataclasses.replace(get("vdxp"), document_axis="adapters.vdxp.axis:no_such_factory")
    _refused_without_a_queue_entry(docs, monkeypatch, {**discover(), "vdxp": broken}, "failed to load")


def test_vdxp_declares_the_axis_and_its_parts(docs: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    axes = parts("document_axis")
    assert [info.name for info, _ in axes] == ["vdxp"]
    axis = axes[0][1](docs.engine, Settings.load(database_url=docs.url))
    assert isinstance(axis, DocumentAxis) and axis.send_kind == "vdxp.send"
    facts = axis.inspect(write_document(document()), max_bytes=10**7)
    assert facts.kind == "edoc" and axis.destination(facts) == f"axis:edoc:{facts.sender}"
    info = get("vdxp")
    assert info.delivery_handlers and info.worker_jobs and "documents" in info.commands

    for name in VDXP_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AxisNotConfigured, match="LGSP_VDXP_URL"):
        asyncio.run(axis.run_receiving(asyncio.Event()))
    settings = Settings.load(database_url=docs.url)
    assert "documents-receiving" not in [job.name for job in plugin_jobs(docs.engine, settings)]
    monkeypatch.setenv("LGSP_VDXP_URL", docs.vdxp.url)
    monkeypatch.setenv("LGSP_VDXP_SYSTEM_ID", docs.vdxp.system_id)
    monkeypatch.setenv("LGSP_VDXP_SECRET", docs.vdxp.secret)
    assert "documents-receiving" in [job.name for job in plugin_jobs(docs.engine, settings)]  # via the adapter


def test_core_document_modules_import_no_axis() -> None:
    code = ("import sys, lgsp.documents.store, lgsp.documents.axis, lgsp.documents.signing_hook, "
            "lgsp.api.documents, lgsp.console.pages, lgsp.console.queries, lgsp.sdk.documents; "
            "print(sorted(m for m in sys.modules if m.startswith('adapters.vdxp')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
