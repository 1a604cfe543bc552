"""The auditor HTTP API on a real server: keys, heads, receipts with inclusion proofs, consistency."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lgsp.app import create_app
from lgsp.audit.bundle import verify_bundle
from lgsp.audit.offline_verify import main as offline_main
from lgsp.audit.sth import LogKeyRing, SignedTreeHead
from lgsp.auth.clients import create_client
from lgsp.testing.servers import start_server
from registry.declarative import apply, parse_registry_file

from .conftest import Store


@pytest.fixture
def api(store: Store) -> Iterator[tuple[Store, httpx.Client, dict[str, dict[str, str]]]]:
    app = create_app(store.settings)
    creds = {scope: create_client(store.engine, None, [scope]) for scope in ("auditor", "admin")}
    apply(store.engine, parse_registry_file(
        "agencies:\n  - {code: 000.00.12.H10, name: UBND}\nsystems:\n  - {id: 000.00.12.H10/MOTCUA, name: Mot cua}\n"))
    creds["gateway"] = create_client(store.engine, "000.00.12.H10/MOTCUA", ["gateway"])
    server = start_server(app)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            auth = {}
            for scope, cred in creds.items():
                token = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                  auth=(cred.client_id, cred.client_secret)).json()["access_token"]
                auth[scope] = {"Authorization": f"Bearer {token}"}
            yield store, http, auth
    finally:
        server.stop()
        app.runtime.engine.dispose()


def test_receipts_heads_keys_and_consistency(api: tuple[Store, httpx.Client, dict[str, dict[str, str]]],
                                             tmp_path: Path) -> None:
    store, http, auth = api
    assert http.get("/audit/heads").status_code == 404  # nothing signed yet
    store.write(10)
    assert http.post("/audit/heads").status_code == 401
    assert http.post("/audit/heads", headers=auth["gateway"]).status_code == 403
    first = http.post("/audit/heads", headers=auth["admin"]).json()
    assert first["tree_size"] == 10
    keys = http.get("/audit/keys").json()  # public, no token
    ring = LogKeyRing.from_json(keys)
    ring.verify(SignedTreeHead.from_json(first))
    store.write(25)
    second = http.post("/audit/heads", headers=auth["auditor"]).json()
    assert second["tree_size"] == 35
    assert http.get("/audit/heads").json() == second
    assert http.get("/audit/heads", params={"size": 10}).json() == first

    assert http.get("/audit/entries/4").status_code == 401
    receipt = http.get("/audit/entries/4", headers=auth["auditor"]).json()
    assert receipt["user_id"] == "user-1" and receipt["index"] == 4  # stored fields at the top level
    assert receipt["heads"] == [second] and receipt["entries"][0]["inclusion"]["tree_size"] == 35
    assert verify_bundle(receipt, trusted_keys=ring).passed
    older = http.get("/audit/entries/4", params={"head": 10}, headers=auth["auditor"]).json()
    assert older["heads"] == [first] and verify_bundle(older, trusted_keys=ring).passed
    assert http.get("/audit/entries/20", params={"head": 10}, headers=auth["auditor"]).status_code == 404
    assert http.get("/audit/entries/999", headers=auth["auditor"]).status_code == 404

    store.write(3)  # entry 36 is not covered by any head yet: the receipt signs one on demand
    fresh = http.get("/audit/entries/36", headers=auth["auditor"]).json()
    assert fresh["heads"][0]["tree_size"] == 38 and verify_bundle(fresh, trusted_keys=ring).passed

    proof = http.get("/audit/consistency", params={"from": 10, "to": 35}).json()
    assert verify_bundle(proof, trusted_keys=ring).passed
    assert http.get("/audit/consistency", params={"from": 11, "to": 35}).status_code == 404

    # the auditor's workflow from docs/auditors.md §4 and §6, offline, through the console entry point
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    (tmp_path / "receipt.json").write_text(json.dumps(older))
    (tmp_path / "consistency.json").write_text(json.dumps(proof))
    keys_arg = ["--trusted-keys", str(tmp_path / "keys.json"), "--quiet"]
    assert offline_main([str(tmp_path / "receipt.json"), *keys_arg]) == 0
    assert offline_main([str(tmp_path / "consistency.json"), *keys_arg,
                         "--known-head", str(tmp_path / "receipt.json")]) == 0
    forged = dict(first, root_hash="00" * 32)
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    assert offline_main([str(tmp_path / "consistency.json"), *keys_arg,
                         "--known-head", str(tmp_path / "forged.json")]) == 1
