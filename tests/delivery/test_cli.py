"""`lgsp deliveries list|show|replay|purge` on a real store (both backends)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from lgsp.audit.models import AuditEntry
from lgsp.audit.verify import verify_chain
from lgsp.cli.main import app
from lgsp.delivery import claims
from lgsp.delivery.models import OutboxMessage
from lgsp.delivery.outbox import NewMessage, accept

runner = CliRunner()


@pytest.fixture
def cli_env(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGSP_DATABASE_URL", store_url)
    monkeypatch.setenv("COLUMNS", "250")


def lgsp(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["deliveries", *args])
    return result.exit_code, result.output


def make_dead(engine: Engine, body: bytes) -> str:
    message_id = accept(engine, NewMessage("t", body, ordering_key=body.decode())).message_id
    [delivery] = [d for d in claims.claim(engine, ["t"], 10, 30) if d.message_id == message_id]
    claims.mark_failed(engine, delivery, "permanent: receiver said no", dead=True, retry_in=0)
    return message_id


def test_list_show_replay_purge(engine: Engine, cli_env: None) -> None:
    dead = make_dead(engine, b"dead-one")
    pending = accept(engine, NewMessage("t", b"waiting")).message_id

    code, out = lgsp("list", "--state", "dead", "--json")
    assert code == 0
    [listed] = [json.loads(line) for line in out.splitlines()]
    assert listed["message_id"] == dead and listed["last_error"] == "permanent: receiver said no"

    code, out = lgsp("list")
    assert code == 0 and dead in out and pending in out and "dead: 1" in out and "pending: 1" in out

    code, out = lgsp("show", dead[:8])
    shown = json.loads(out)
    assert code == 0 and shown["payload"] == "dead-one" and shown["state"] == "dead"

    code, out = lgsp("replay", pending)
    assert code == 2 and "pending" in out  # still being delivered: refused

    code, out = lgsp("replay", dead)
    assert code == 0 and f"replayed {dead} (was dead" in out
    with Session(engine) as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == dead))
        assert row is not None and row.state == "pending" and row.attempts == 0
        replay_entry = session.scalar(select(AuditEntry).where(AuditEntry.method == "REPLAY"))
        assert replay_entry is not None and replay_entry.message_id == dead
    assert verify_chain(engine).ok
    assert dead in {d.message_id for d in claims.claim(engine, ["t"], 10, 30)}  # the worker picks it up again


def test_replay_all_dead_and_purge_only_finished(engine: Engine, cli_env: None) -> None:
    first, second = make_dead(engine, b"a"), make_dead(engine, b"b")
    open_id = accept(engine, NewMessage("t", b"open")).message_id
    code, out = lgsp("replay", "--all-dead")
    assert code == 0 and first in out and second in out and "2 message(s)" in out

    for delivery in claims.claim(engine, ["t"], 10, 30):
        if delivery.message_id != open_id:
            claims.mark_delivered(engine, delivery, None)
    old = datetime.now(UTC) - timedelta(days=40)
    with engine.begin() as conn:
        conn.execute(update(OutboxMessage).values(updated_at=old))
    code, out = lgsp("purge", "--state", "pending")
    assert code == 2 and "only delivered or dead" in out
    code, out = lgsp("purge", "--older-than-days", "30")
    assert code == 0 and "purged 2" in out
    with Session(engine) as session:
        assert list(session.scalars(select(OutboxMessage.message_id))) == [open_id]  # never purged while open


def test_bad_operator_input_is_a_clear_error(engine: Engine, cli_env: None) -> None:
    assert lgsp("show", "abc")[0] == 2
    code, out = lgsp("show", "00000000")
    assert code == 2 and "no message" in out
    code, out = lgsp("list", "--state", "lost")
    assert code == 2 and "unknown state" in out
    code, out = lgsp("replay")
    assert code == 2 and "--all-dead" in out
