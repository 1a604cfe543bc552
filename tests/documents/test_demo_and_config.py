"""The demo round trip, the worker-job wiring and the ``LGSP_VDXP_*`` configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adapters.vdxp.demo_documents import demo_documents
from adapters.vdxp.handler import SEND_KIND
from adapters.vdxp.jobs import document_jobs
from adapters.vdxp.settings import VdxpSettings
from lgsp.delivery.handlers import load_handlers
from lgsp.documents.packets import load_hook
from lgsp.settings import Settings
from tests.documents.conftest import PEER, SENDER, Stack

ROOT = Path(__file__).parents[2]


def test_demo_documents_round_trip(docs: Stack) -> None:
    lines: list[str] = []
    final = demo_documents(docs.gateway.url, docs.token(), axis_url=docs.axis_server.url, peer_system_id="vpcp-qlvb",
                           peer_secret=docs.peer_secret, sender=SENDER, recipient=PEER, engine=docs.engine,
                           vdxp=docs.vdxp, say=lines.append, timeout=30)
    assert final["delivery_state"] == "delivered" and final["axis_doc_id"]
    assert [(s["from"], s["status_code"]) for s in final["statuses"]] == [(PEER, "03")]
    assert [line[:2] for line in lines] == ["1.", "2.", "3.", "4."]


def test_settings_from_env(tmp_path: Path) -> None:
    assert VdxpSettings.from_env({}) is None
    with pytest.raises(ValueError, match="SYSTEM_ID"):
        VdxpSettings.from_env({"LGSP_VDXP_URL": "http://127.0.0.1:1"})
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    settings = VdxpSettings.from_env({"LGSP_VDXP_URL": "http://127.0.0.1:1", "LGSP_VDXP_SYSTEM_ID": "lgsp",
                                      "LGSP_VDXP_SECRET_FILE": str(secret), "LGSP_VDXP_AGENCIES": f"{SENDER}, {PEER}",
                                      "LGSP_VDXP_POLL_SECONDS": "2"})
    assert settings is not None and settings.secret == "s3cret" and settings.agencies == (SENDER, PEER)
    assert settings.poll_seconds == 2.0
    with pytest.raises(ValueError, match="numbers"):
        VdxpSettings.from_env({"LGSP_VDXP_URL": "http://x", "LGSP_VDXP_SYSTEM_ID": "a", "LGSP_VDXP_SECRET": "b",
                               "LGSP_VDXP_POLL_SECONDS": "often"})


def test_worker_wiring(docs: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LGSP_VDXP_URL", "LGSP_VDXP_SYSTEM_ID", "LGSP_VDXP_SECRET", "LGSP_VDXP_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("LGSP_DVCQG_ADAPTER_URL", raising=False)
    assert document_jobs(docs.engine, Settings.load(database_url=docs.url)) == []
    assert SEND_KIND not in load_handlers(docs.engine)  # not configured: outgoing documents wait, none is lost
    monkeypatch.setenv("LGSP_VDXP_URL", docs.vdxp.url)
    monkeypatch.setenv("LGSP_VDXP_SYSTEM_ID", docs.vdxp.system_id)
    monkeypatch.setenv("LGSP_VDXP_SECRET", docs.vdxp.secret)
    jobs = document_jobs(docs.engine, Settings.load(database_url=docs.url))
    assert [job.name for job in jobs] == ["documents-receiving"]
    assert SEND_KIND in load_handlers(docs.engine)  # through the vdxp adapter's AdapterInfo.delivery_handlers


def test_standalone_poller_needs_configuration() -> None:
    env = {"PATH": "/usr/bin:/bin", "LGSP_DATABASE_URL": "sqlite:///:memory:"}
    done = subprocess.run([sys.executable, "-m", "lgsp.documents"], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert done.returncode == 2 and b"LGSP_VDXP_URL" in done.stderr


def test_signature_hook_spec() -> None:
    assert load_hook("") is None
    assert load_hook("lgsp.documents.signing_hook:verify").__name__ == "verify"
    with pytest.raises(ValueError, match="module:function"):
        load_hook("no-colon")


def test_operator_cli(docs: Stack) -> None:
    import os

    from adapters.vdxp.edxml import write_document
    from adapters.vdxp.simulator_config import Faults
    from tests.documents.conftest import document

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGSP_DVCQG_", "LGSP_VDXP_"))}
    env.update(LGSP_DATABASE_URL=docs.url, LGSP_VDXP_URL=docs.vdxp.url, LGSP_VDXP_SYSTEM_ID=docs.vdxp.system_id,
               LGSP_VDXP_SECRET=docs.vdxp.secret, LGSP_VDXP_AGENCIES=SENDER, LGSP_VDXP_PARSE_ATTEMPTS="1")
    lgsp = str(Path(sys.executable).parent / "lgsp")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([lgsp, "documents", *args], env=env, capture_output=True, text=True, timeout=120)

    synced = run("sync-directory")
    assert synced.returncode == 0 and "3 agencies" in synced.stdout, synced.stderr
    docs.peer_send(write_document(document(sender=PEER, recipients=(SENDER,))))
    docs.axis.faults = Faults(malformed_fetch_rate=1.0)
    try:
        polled = run("poll")
    finally:
        docs.axis.faults = Faults()
    assert polled.returncode == 0 and "rejected=1" in polled.stdout, polled.stdout + polled.stderr
    rejected = run("rejected")
    assert rejected.returncode == 0 and "garbage-before-xml" in rejected.stdout
