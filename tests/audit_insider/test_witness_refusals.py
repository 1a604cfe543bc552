"""The witness's refusal record stays bounded under junk, and never loses evidence against the log operator."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lgsp.audit import witness
from lgsp.audit.witness import WitnessStore


def test_junk_refusals_are_bounded_but_signed_conflicts_are_kept(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(witness, "KEPT_UNSIGNED_REFUSALS", 20)
    store = WitnessStore(tmp_path / "witness.db")
    store.refuse("example.org/log", 409, "old size 3, but the latest cosigned size is 5 (rollback)")
    store.refuse("example.org/log", 400, "old size 9 is larger than the checkpoint (7)")  # signed, still kept
    for i in range(60):
        store.refuse(None, (400, 403, 404)[i % 3], f"junk {i} " + "x" * 5000, signed=False)
    store.refuse("example.org/log", 422, "not consistent with the cosigned checkpoint of size 5")
    refusals = store.refusals()
    evidence = [r for r in refusals if not r["reason"].startswith("junk")]
    assert [r["status"] for r in evidence] == [409, 400, 422]
    junk = [r for r in refusals if r["reason"].startswith("junk")]
    assert len(junk) == 20  # the newest junk is what is kept
    assert junk[0]["reason"].startswith("junk 40 ") and junk[-1]["reason"].startswith("junk 59 ")
    assert all(len(r["reason"]) <= witness.MAX_REASON_CHARS for r in refusals)


def test_a_witness_database_from_before_the_bound_keeps_its_refusals_as_evidence(tmp_path: Path) -> None:
    path = tmp_path / "old-witness.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE refusals (id INTEGER PRIMARY KEY, at REAL NOT NULL, origin TEXT, status INTEGER, "
                     "reason TEXT NOT NULL)")
        conn.execute("INSERT INTO refusals (at, origin, status, reason) VALUES (1, 'o', 409, 'old fork')")
    store = WitnessStore(path)
    store.refuse(None, 400, "junk", signed=False)
    assert [r["reason"] for r in store.refusals()] == ["old fork", "junk"]


def test_an_oversized_request_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """The witness read any body whole; a body past the bound is now a 413, declared or streamed."""
    import httpx
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lgsp.testing.servers import start_server

    w = witness.Witness("t.example/witness", Ed25519PrivateKey.generate(), WitnessStore(tmp_path / "w.db"))
    server = start_server(witness.witness_app(w))
    try:
        big = b"old 0\n" + b"A" * (witness.MAX_REQUEST_BYTES + 1)
        declared = httpx.post(server.url + "/add-checkpoint", content=big)
        assert declared.status_code == 413
        streamed = httpx.post(server.url + "/add-checkpoint", content=iter([big[:1000], big[1000:]]))
        assert streamed.status_code == 413  # chunked: no Content-Length to go by
        small = httpx.post(server.url + "/add-checkpoint", content=b"old 0\n\nnot a note")
        assert small.status_code == 400  # within the bound: read and judged as before
    finally:
        server.stop()
