"""One-stop-shop dossier events through lgsp to the DVCQG simulator, over real HTTP, on both stores."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from adapters.dvcqg import DvcqgClient
from adapters.dvcqg.delivery import KIND, StorePushLedger
from adapters.dvcqg.simulator import Fault
from lgsp.audit.models import AuditEntry
from lgsp.audit.verify import verify_chain
from lgsp.cli.main import app as cli
from lgsp.delivery.claims import open_count
from lgsp.delivery.models import OutboxMessage
from lgsp.testing.servers import start_server
from tests.dvcqg_flow.conftest import CITY, Flow, dossier_code, event


def outbox_row(flow: Flow, message_id: str) -> OutboxMessage:
    with Session(flow.engine) as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))
        assert row is not None
        return row


def audit_entries(flow: Flow, message_id: str) -> list[AuditEntry]:
    with Session(flow.engine) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.message_id == message_id)))


def accepted(flow: Flow, body: dict[str, Any], key: str | None = None) -> str:
    reply = flow.post_event(body, key)
    assert reply.status_code == 202, reply.text
    message_id = str(reply.json()["message_id"])
    assert reply.headers["x-lgsp-message-id"] == message_id
    return message_id


async def tra_cuu(flow: Flow, code: str) -> list[dict[str, Any]]:
    async with DvcqgClient(flow.config.settings) as client:
        return await client.tra_cuu_ho_so(code)


async def test_event_is_accepted_audited_and_synced(flow: Flow) -> None:
    code = dossier_code()
    reply = flow.post_event(event(code), "evt-" + code)
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert body["dossier"] == code and body["trang_thai_ho_so"] == 2 and body["duplicate"] is False
    row = outbox_row(flow, body["message_id"])
    assert (row.kind, row.ordering_key, row.state, row.client_id) == (KIND, code, "pending",
                                                                      "000.00.12.H10/MOTCUA")
    [entry] = audit_entries(flow, body["message_id"])  # committed with the outbox row
    assert entry.idx == row.audit_index == int(reply.headers["x-lgsp-audit-index"])
    assert entry.status == 202 and entry.path == "/dossiers/events" and entry.client == "000.00.12.H10/MOTCUA"

    await flow.deliver_all()
    [found] = await tra_cuu(flow, code)
    assert found["TrangThaiHoSo"] == "2" and found["TenTTHC"] == "Đăng ký khai sinh (mẫu)"  # from LayThuTuc
    assert flow.sim.progress[code][-1]["NguoiXuLy"] == "Phạm Thị D"
    done = outbox_row(flow, body["message_id"])
    assert done.state == "delivered" and done.remote_id == code
    assert StorePushLedger(flow.engine).pushes(code) == 1
    assert verify_chain(flow.engine).ok


async def test_second_event_becomes_an_update(flow: Flow) -> None:
    code = dossier_code()
    accepted(flow, event(code, "receiving"))
    await flow.deliver_all()
    before = flow.sim.calls["DongBoHoSoMC"]
    accepted(flow, event(code, "processing", GhiChu="đang thẩm định"))
    await flow.deliver_all()
    # the simulator refuses isUpdating=False for a known dossier, so success proves it was an update
    assert flow.sim.calls["DongBoHoSoMC"] == before + 1
    [found] = await tra_cuu(flow, code)
    assert found["TrangThaiHoSo"] == "4" and found["GhiChu"] == "đang thẩm định"
    assert [p["TrangThai"] for p in flow.sim.progress[code]] == ["2", "4"]
    assert StorePushLedger(flow.engine).pushes(code) == 2


async def test_portal_down_delays_the_sync_but_never_loses_it(flow: Flow) -> None:
    code = dossier_code()
    port = flow.portal.port
    flow.portal.stop()  # the national portal is down
    try:
        first = accepted(flow, event(code, "receiving"))
        second = accepted(flow, event(code, "processing"))
        worker, handlers = flow.worker()
        try:
            assert await worker.run_once() == 1  # only the first: the second waits behind it (same dossier)
            waiting = outbox_row(flow, first)
            assert waiting.state == "pending" and waiting.attempts == 1
            assert "unreachable" in (waiting.last_error or "")
            assert outbox_row(flow, second).attempts == 0
        finally:
            await handlers.aclose()
    finally:
        flow.portal = start_server(flow.sim.app, port=port)  # it recovers on the same address
    await flow.deliver_all()
    assert outbox_row(flow, first).state == outbox_row(flow, second).state == "delivered"
    [found] = await tra_cuu(flow, code)
    assert found["TrangThaiHoSo"] == "4"  # both arrived, in order


async def test_expired_session_means_a_fresh_login(flow: Flow) -> None:
    worker, handlers = flow.worker()
    try:
        code = dossier_code()
        accepted(flow, event(code))
        await worker.run_until(lambda: open_count(flow.engine) == 0)
        logins = flow.sim.logins
        flow.sim.expire_sessions()
        second = accepted(flow, event(code, "done"))
        await worker.run_until(lambda: open_count(flow.engine) == 0)
    finally:
        await handlers.aclose()
    assert flow.sim.logins == logins + 1
    row = outbox_row(flow, second)
    assert row.state == "delivered" and row.attempts == 1  # the re-login happened inside one attempt


async def test_permanent_error_is_a_dead_letter_an_operator_can_replay(
        flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    code = dossier_code()
    flow.sim.add_fault(Fault("error_code", times=1, error_code="07", message="Mã TTHC bị khóa",
                             services=frozenset({"DongBoHoSoMC"})))
    message_id = accepted(flow, event(code))
    await flow.deliver_all()
    dead = outbox_row(flow, message_id)
    assert dead.state == "dead" and dead.attempts == 1 and "Mã TTHC bị khóa" in (dead.last_error or "")
    assert await tra_cuu(flow, code) == []

    monkeypatch.setenv("LGSP_DATABASE_URL", flow.url)
    runner = CliRunner()
    listed = runner.invoke(cli, ["deliveries", "list", "--state", "dead", "--kind", KIND, "--json"])
    assert listed.exit_code == 0
    rows = {r["message_id"]: r for r in map(json.loads, listed.output.splitlines())}
    assert code == rows[message_id]["ordering_key"] and "error_code='07'" in rows[message_id]["last_error"]

    replayed = runner.invoke(cli, ["deliveries", "replay", message_id])
    assert replayed.exit_code == 0, replayed.output
    await flow.deliver_all()
    assert outbox_row(flow, message_id).state == "delivered"
    [found] = await tra_cuu(flow, code)
    assert found["MaHoSo"] == code


async def test_sender_can_follow_its_event(flow: Flow) -> None:
    code = dossier_code()
    flow.sim.add_fault(Fault("error_code", times=1, error_code="07", message="Mã TTHC bị khóa",
                             services=frozenset({"DongBoHoSoMC"})))
    refused, later = accepted(flow, event(code)), accepted(flow, event(code, "processing"))
    auth = {"Authorization": f"Bearer {flow.token()}"}
    status = flow.http.get(f"/dossiers/events/{refused}", headers=auth).json()
    assert status["state"] == "pending" and status["dossier"] == code and status["delivered_at"] is None
    await flow.deliver_all()
    status = flow.http.get(f"/dossiers/events/{refused}", headers=auth).json()
    assert status["state"] == "dead" and "Mã TTHC bị khóa" in status["last_error"]
    status = flow.http.get(f"/dossiers/events/{later}", headers=auth).json()
    assert status["state"] == "delivered" and status["delivered_at"] and status["last_error"] is None
    missing = flow.http.get("/dossiers/events/00000000-0000-4000-8000-000000000000", headers=auth)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_resend_with_the_same_idempotency_key_is_not_queued_twice(flow: Flow) -> None:
    code = dossier_code()
    body = event(code)
    first = flow.post_event(body, "k-" + code)
    again = flow.post_event(body, "k-" + code)
    assert first.status_code == again.status_code == 202
    assert again.json()["message_id"] == first.json()["message_id"]
    assert again.headers["idempotent-replayed"] == "true" and again.json()["duplicate"] is True
    with Session(flow.engine) as session:
        assert len(list(session.scalars(select(OutboxMessage).where(OutboxMessage.ordering_key == code)))) == 1
    changed = flow.post_event(event(code, "done"), "k-" + code)
    assert changed.status_code == 409 and changed.json()["message_id"] == first.json()["message_id"]
    bad_key = flow.post_event(body, "has space")
    assert bad_key.status_code == 400 and bad_key.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len(audit_entries(flow, first.json()["message_id"])) == 2  # the resend is audited too
    assert verify_chain(flow.engine).ok


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda e: e["dossier"].pop("NgayHenTra"), "dossier.NgayHenTra"),
    (lambda e: e["dossier"].update(NgayTiepNhan="2025-11-26"), "dossier.NgayTiepNhan"),
    (lambda e: e["dossier"].update(LoaiDoiTuong="9"), "dossier.LoaiDoiTuong"),
    (lambda e: e.update(local_status="archived"), "local_status"),
    (lambda e: e["dossier"].update(TrangThaiHoSo="4"), "dossier.TrangThaiHoSo"),
    (lambda e: e.update(unexpected=1), "unexpected"),
    # " X" and "X\n" keyed dossiers (owner, push ledger) of their own beside X
    # an event "from" 9999 would supersede every later real one of the dossier
    (lambda e: e.update(occurred_at="99991231235959"), "occurred_at"),
    (lambda e: e["dossier"].update(MaHoSo=" " + e["dossier"]["MaHoSo"]), "dossier.MaHoSo"),
    (lambda e: e["dossier"].update(MaHoSo=e["dossier"]["MaHoSo"] + "\n"), "dossier.MaHoSo"),
])
def test_bad_events_are_refused_naming_the_field(flow: Flow, mutate: Any, field: str) -> None:
    code = dossier_code()
    body = event(code)
    mutate(body)
    reply = flow.post_event(body)
    assert reply.status_code == 422, reply.text
    problem = reply.json()
    assert reply.headers["content-type"] == "application/problem+json"
    assert problem["type"] == "https://lgsp.dev/problems/validation-failed"
    assert field in [e["field"] for e in problem["errors"]], problem
    with Session(flow.engine) as session:  # nothing queued, but the refusal is in the audit log
        assert session.scalar(select(OutboxMessage).where(OutboxMessage.ordering_key == code)) is None
    [entry] = audit_entries(flow, reply.headers["x-lgsp-message-id"])
    assert entry.status == 422 and entry.problem_type == problem["type"]


def test_malformed_requests(flow: Flow) -> None:
    assert flow.post_event(b"{not json").status_code == 400
    # past json.loads' nesting and digit limits (500s before), and a lone surrogate as raw bytes
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"MaHoSo": ' + b"9" * 5000 + b"}",
                 b'{"MaHoSo": "\xed\xa0\x80"}'):
        reply = flow.post_event(body)
        assert reply.status_code == 400, reply.text
        assert reply.headers["content-type"] == "application/problem+json"
    wrong_type = flow.http.post("/dossiers/events", content=b"<xml/>", headers={
        "Authorization": f"Bearer {flow.token()}", "Content-Type": "application/xml"})
    assert wrong_type.status_code == 415
    assert flow.post_event(b"x" * (1024 * 1024 + 1)).status_code == 413
    anonymous = flow.http.post("/dossiers/events", json=event(dossier_code()))
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"


def test_not_configured_is_503(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LGSP_DVCQG_ADAPTER_URL", "LGSP_DVCQG_STATUS_MAPPING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delattr(flow.app.api.state, "dvcqg_checker")
    reply = flow.post_event(event(dossier_code()))
    assert reply.status_code == 503 and reply.json()["type"].endswith("/not-configured")


def test_a_dossier_code_longer_than_lgsp_stores_is_422(flow: Flow) -> None:
    """A 120-character MaHoSo passed every check, then failed the INSERT on PostgreSQL (a 500)."""
    reply = flow.post_event(event(f"{CITY}-251126-" + "1" * 120))
    assert reply.status_code == 422, reply.text
    assert reply.json()["errors"][0]["field"] == "dossier.MaHoSo"


async def test_an_event_accepted_after_a_later_one_does_not_put_the_portal_back(flow: Flow) -> None:
    """Two posts racing (or a late resend): the 08:15 'receiving' event was accepted after the 09:30
    'processing' one, and its push put the dossier back to 'received' on the portal."""
    code = dossier_code()
    newer = accepted(flow, event(code, "processing") | {"occurred_at": "20251126093000"})
    older = accepted(flow, event(code, "receiving"))  # occurred_at 20251126081500
    await flow.deliver_all()
    [found] = await tra_cuu(flow, code)
    assert found["TrangThaiHoSo"] == "4"
    assert [p["TrangThai"] for p in flow.sim.progress[code]] == ["4"]
    auth = {"Authorization": f"Bearer {flow.token()}"}
    assert flow.http.get(f"/dossiers/events/{newer}", headers=auth).json()["state"] == "delivered"
    status = flow.http.get(f"/dossiers/events/{older}", headers=auth).json()
    assert status["state"] == "dead" and "superseded" in status["last_error"]
    assert "20251126093000" in status["last_error"]


@pytest.mark.parametrize("kind", ["top-level", "dossier"])
def test_a_key_given_twice_or_nan_is_a_400_not_queued(flow: Flow, kind: str) -> None:
    """Duplicate keys were resolved last-wins (a first-wins reader of the same bytes sees another dossier
    or status); NaN was queued and would have gone to the portal as invalid JSON."""
    code = dossier_code()
    text = json.dumps(event(code), ensure_ascii=False)
    twice = (text[:-1] + ', "local_status": "processing"}' if kind == "top-level"
             else text.replace(f'"MaHoSo": "{code}"', f'"MaHoSo": "{code}", "MaHoSo": "{code}-B"'))
    nan = text.replace('"HinhThuc": "0"', '"HinhThuc": "0", "SoTien": NaN')
    for body in (twice, nan):
        reply = flow.post_event(body.encode())
        assert reply.status_code == 400, reply.text
        assert reply.headers["content-type"] == "application/problem+json"
    with Session(flow.engine) as session:
        assert session.scalar(select(OutboxMessage).where(OutboxMessage.ordering_key.startswith(code))) is None
