"""First-form audit log: entries for every exchange, filters, tamper detection by `lgsp audit verify`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from lgsp.audit.models import AuditEntry
from lgsp.audit.verify import verify_chain
from lgsp.audit.writer import AuditWriter, write_batch
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.postgres import create_database, drop_database
from tests.core.conftest import ECHO, Stack


def _entry(n: int) -> dict:
    return {"time": datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=n), "message_id": f"m-{n}",
            "correlation_id": None, "client": "c", "service": "s", "method": "GET", "path": f"/p/{n}",
            "user_id": None, "status": 200, "latency_us": 1000 + n, "request_sha256": None,
            "response_sha256": None, "problem_type": None, "signature_report_sha256": None, "extra": {}}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'a.db'}" if request.param == "sqlite" else create_database("lgsp_t_audit")
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        drop_database(url)


def test_chain_verifies_and_detects_tampering(engine) -> None:  # type: ignore[no-untyped-def]
    assert write_batch(engine, [_entry(n) for n in range(5)]) == [0, 1, 2, 3, 4]
    assert write_batch(engine, [_entry(n) for n in range(5, 8)]) == [5, 6, 7]
    result = verify_chain(engine)
    assert result.ok and result.checked == 8

    with engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.idx == 3).values(status=500))
    result = verify_chain(engine)
    assert not result.ok and any("entry 3" in p and "altered" in p for p in result.problems)
    with engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.idx == 3).values(status=200))
    assert verify_chain(engine).ok

    with engine.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.idx == 5))
    result = verify_chain(engine)
    assert any("entry 5 is missing" in p for p in result.problems)
    assert any("entry 6" in p and "chain" in p for p in result.problems)


def test_rewritten_entry_with_recomputed_leaf_breaks_the_chain(engine) -> None:  # type: ignore[no-untyped-def]
    from lgsp.audit.canonical import canonical_entry_bytes, pick_entry_fields
    from lgsp.audit.merkle import leaf_hash

    write_batch(engine, [_entry(n) for n in range(4)])
    forged = dict(_entry(1), idx=1, status=403)
    new_leaf = leaf_hash(canonical_entry_bytes(pick_entry_fields(forged)))
    with engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.idx == 1).values(status=403, leaf_hash=new_leaf))
    result = verify_chain(engine)
    assert not result.ok and any("entry 1: chain hash mismatch" in p for p in result.problems)


def test_group_commit_assigns_gap_free_indexes(engine) -> None:  # type: ignore[no-untyped-def]
    async def burst() -> list[int]:
        writer = AuditWriter(engine, max_batch=16)
        await writer.start()
        try:
            return list(await asyncio.gather(*(writer.record(_entry(n)) for n in range(200))))
        finally:
            await writer.stop()

    indexes = asyncio.run(burst())
    assert sorted(indexes) == list(range(200))
    assert verify_chain(engine).ok


def test_store_failure_fails_every_caller_in_the_batch(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'f.db'}")  # no migrations: the table is missing

    async def attempt() -> list[object]:
        writer = AuditWriter(engine)
        await writer.start()
        try:
            return list(await asyncio.gather(*(writer.record(_entry(n)) for n in range(3)), return_exceptions=True))
        finally:
            await writer.stop()

    results = asyncio.run(attempt())
    assert all(isinstance(r, Exception) for r in results)


def test_auditor_api_filters(stack: Stack) -> None:
    auth = stack.auth(stack.client, **{"X-LGSP-User-Id": "auditor-test-user"})
    for _ in range(3):
        assert stack.http.get(f"/services/{ECHO}/audit-filter", headers=auth).status_code == 200
    auditor = stack.auth(stack.auditor)
    page = stack.http.get("/audit/entries", params={"user_id": "auditor-test-user", "limit": 2},
                          headers=auditor).json()
    assert len(page["entries"]) == 2 and page["next_after"] == page["entries"][-1]["index"]
    rest = stack.http.get("/audit/entries", params={"user_id": "auditor-test-user", "after": page["next_after"]},
                          headers=auditor).json()
    assert len(rest["entries"]) == 1 and rest["next_after"] is None
    assert all(e["service"] == ECHO and e["status"] == 200 for e in page["entries"] + rest["entries"])
    one = stack.http.get(f"/audit/entries/{rest['entries'][0]['index']}", headers=auditor).json()
    assert one["user_id"] == "auditor-test-user" and len(one["chain_hash"]) == 64
    assert stack.http.get("/audit/entries", headers=stack.auth(stack.client)).status_code == 403
    assert stack.http.get("/audit/entries/99999999", headers=auditor).status_code == 404
    forbidden = stack.http.get("/audit/entries", params={"status": 403}, headers=auditor).json()["entries"]
    assert all(e["status"] == 403 for e in forbidden)
    assert verify_chain(stack.engine).ok
