"""Kill -9 of `lgsp serve --workers 2` (PostgreSQL) in the middle of a burst of calls.

Every call the gateway acknowledged (a 2xx with `X-LGSP-Audit-Index`) must have exactly one entry,
at that index, with its message id; nothing half-written may remain: the tree, the heads signed in
the background by both worker processes, and the chain must verify after the restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from lgsp.app import create_app
from lgsp.audit.evidence import verify_store
from lgsp.audit.heads import HeadService
from lgsp.audit.models import AuditEntry
from lgsp.auth.clients import create_client
from lgsp.settings import Settings
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import start_server
from registry.declarative import apply, parse_registry_file
from tests.core.conftest import CLIENT, ECHO, registry_yaml
from tests.core.providers import closed_port_url, provider_app

from .test_tamper import free_port_for_test as free_port


def start(env: dict[str, str], port: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "lgsp.cli", "serve", "--port", str(port), "--workers", "2"],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # two workers start slowly on a loaded machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"lgsp serve did not become ready:\n{log.read_text()[-2000:]}")


@pytest.mark.slow
@pytest.mark.timeout(300)  # two `lgsp serve --workers 2` starts and a burst; each start may take 90 s under load
def test_kill_9_mid_burst_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    url = create_database("lgsp_t_crash")
    provider = start_server(provider_app())
    engine = make_engine(url)
    try:
        upgrade(engine)
        closed = closed_port_url()
        apply(engine, parse_registry_file(registry_yaml(provider.url, closed, closed, closed, closed)))
        cred = create_client(engine, CLIENT, ["gateway"])
        key_file = tmp_path / "log-key.pem"
        env = {**os.environ, "LGSP_DATABASE_URL": url, "LGSP_ACCESS_LOG": "false",
               "LGSP_AUDIT_LOG_KEY_FILE": str(key_file), "LGSP_AUDIT_HEAD_EVERY_ENTRIES": "40",
               "LGSP_AUDIT_HEAD_EVERY_SECONDS": "1"}
        proc, base = start(env, free_port(), tmp_path / "serve.log")
        token = httpx.post(base + "/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(cred.client_id, cred.client_secret)).json()["access_token"]
        acked: list[tuple[int, str]] = []
        lock = threading.Lock()
        killed = threading.Event()

        http = httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}"},
                            limits=httpx.Limits(max_connections=24))

        def call(n: int) -> None:
            if killed.is_set():
                return
            try:
                r = http.post(f"{base}/services/{ECHO}/burst/{n}", content=b"x" * 200)
            except httpx.TransportError:
                return  # not acknowledged: may or may not be in the log
            if 200 <= r.status_code < 300:
                with lock:
                    acked.append((int(r.headers["x-lgsp-audit-index"]), r.headers["x-lgsp-message-id"]))
                    if len(acked) >= 250 and not killed.is_set():
                        killed.set()
                        os.killpg(proc.pid, signal.SIGKILL)  # master and both workers, mid-burst

        with ThreadPoolExecutor(24) as pool:
            list(pool.map(call, range(2000)))
        http.close()
        proc.wait(10)
        assert killed.is_set() and len(acked) >= 250

        # restart on the same store and key (in this process: one more `lgsp serve` start would
        # cost ~20 s of imports on a busy host, and the gateway code is the same): it continues
        # the sequence and the tree where the killed sequencer's last commit left them
        settings = Settings(database_url=url, audit_log_key_file=str(key_file), audit_head_every_entries=40,
                            audit_head_every_seconds=1.0, access_log=False)
        app = create_app(settings)
        server = start_server(app)
        try:
            with httpx.Client(base_url=server.url, timeout=10) as again:
                token = again.post("/oauth/token", data={"grant_type": "client_credentials"},
                                   auth=(cred.client_id, cred.client_secret)).json()["access_token"]
                for n in range(20):
                    r = again.get(f"/services/{ECHO}/after/{n}", headers={"Authorization": f"Bearer {token}"})
                    assert r.status_code == 200
                    acked.append((int(r.headers["x-lgsp-audit-index"]), r.headers["x-lgsp-message-id"]))
        finally:
            server.stop()
            app.runtime.engine.dispose()

        with engine.connect() as conn:
            rows = conn.execute(select(AuditEntry.idx, AuditEntry.message_id).order_by(AuditEntry.idx)).all()
        by_index = {r.idx: r.message_id for r in rows}
        assert [r.idx for r in rows] == list(range(len(rows)))  # gap-free after the crash
        counts = Counter(r.message_id for r in rows)
        for index, message_id in acked:
            assert by_index.get(index) == message_id, f"acknowledged call {message_id} not at index {index}"
            assert counts[message_id] == 1
        heads = HeadService(engine, Settings(database_url=url, audit_log_key_file=str(key_file)))
        assert heads.latest() is not None  # signed in the background before and after the crash
        heads.sign(force=True)
        report = verify_store(engine, heads)
        assert report.passed, report.failures
        assert report.entries_verified == len(rows) and report.heads_verified >= 2
    finally:
        engine.dispose()
        provider.stop()
        drop_database(url)
