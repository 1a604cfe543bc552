"""GET /audit/checkpoint on a real server, and the witness / key commands as an operator runs them."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lgsp.app import create_app
from lgsp.audit.note import NoteVerifier, open_note, parse_checkpoint
from lgsp.testing.servers import start_server
from tests.security.rawhttp import HEAD_TIMEOUT, probe_served_like_lgsp_serve

from .conftest import Store
from .witnesses import two_witnesses


def test_checkpoint_endpoint_serves_the_signed_note_with_cosignatures(store: Store, tmp_path: Path) -> None:
    with two_witnesses(store, tmp_path) as (s, _witnesses):
        s.write(12)
        head = s.heads.sign(force=True)
        assert head is not None
        app = create_app(s.settings)
        server = start_server(app)
        try:
            note = httpx.get(f"{server.url}/audit/checkpoint").text
            document = httpx.get(f"{server.url}/audit/checkpoint", headers={"accept": "application/json"}).json()
        finally:
            server.stop()
            app.runtime.engine.dispose()
    text, signatures = open_note(note)
    checkpoint = parse_checkpoint(text)
    assert (checkpoint.origin, checkpoint.tree_size) == ("lgsp.test/audit", 12)
    assert base64.b64decode(text.split("\n")[2]) == head.root_hash
    log_key = NoteVerifier.from_vkey(document["log_key"])
    assert log_key.verify(text, next(x for x in signatures if x.name == log_key.name)) is None
    assert len(signatures) == 3 and len(document["cosignatures"]) == 2 and document["head"] == head.to_json()


def _cli(args: list[str], env: dict[str, str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lgsp.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, **kw)  # type: ignore[call-overload]


@pytest.mark.timeout(480)  # seven lgsp processes: ~10 s each on a loaded 2-core runner
def test_witness_serve_and_keys_rotate_from_the_command_line(store: Store, tmp_path: Path) -> None:
    env = {**os.environ, "LGSP_DATABASE_URL": store.url, "COLUMNS": "200",
           "LGSP_HEADER_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),  # for the probe of the witness's server
           "LGSP_AUDIT_LOG_KEY_FILE": store.settings.audit_log_key_file, "LGSP_AUDIT_CHECKPOINT_ORIGIN": "cli.test/log"}
    log_vkey = store.heads.signer.public.note_verifier("cli.test/log").vkey()
    wkey = ["--name", "cli.witness", "--key", str(tmp_path / "w.pem")]
    vkey = _cli(["witness", "key", *wkey], env)
    assert vkey.returncode == 0, vkey.stderr
    witness_vkey = vkey.stdout.strip()
    assert NoteVerifier.from_vkey(witness_vkey).name == "cli.witness"
    from lgsp.testing.servers import bind_socket

    port = bind_socket().getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "lgsp.cli", "witness", "serve", *wkey, "--db",
                             str(tmp_path / "w.db"), "--log", log_vkey, "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # an unread pipe would block it
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/lgsp/witness").json()["vkey"] == witness_vkey:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        probe_served_like_lgsp_serve(f"http://127.0.0.1:{port}")
        env["LGSP_AUDIT_WITNESSES"] = f"http://127.0.0.1:{port} {witness_vkey}"
        store.write(5)
        signed = _cli(["audit", "sign-head"], env)
        assert signed.returncode == 0, signed.stderr
        rotated = _cli(["audit", "keys", "rotate"], env)
        assert rotated.returncode == 0 and "cli.witness': 'cosigned'" in rotated.stdout, rotated.stdout + rotated.stderr
        listed = _cli(["audit", "keys"], env)
        assert listed.returncode == 0 and len(json.loads(listed.stdout)["keys"]) == 2
        trust = _cli(["audit", "trust-template"], env)
        assert trust.returncode == 0 and json.loads(trust.stdout)["witnesses"] == [witness_vkey]
        assert "max_cosignature_age_seconds" not in json.loads(trust.stdout)
        fresh = _cli(["audit", "trust-template", "--max-cosignature-age", "86400"], env)
        assert fresh.returncode == 0 and json.loads(fresh.stdout)["max_cosignature_age_seconds"] == 86400
        # docs/auditors.md's example asks for --quorum 2: with one witness the refusal says why, not just a range
        short = _cli(["audit", "trust-template", "--quorum", "2"], env)
        assert short.returncode == 2 and "LGSP_AUDIT_WITNESSES" in short.stdout + short.stderr
    finally:
        proc.terminate()
        proc.wait(10)
