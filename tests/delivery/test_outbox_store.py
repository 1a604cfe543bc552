"""The outbox in the store: migration, enqueue inside the caller's transaction, idempotency, claims."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, func, inspect, select
from sqlalchemy.orm import Session

from lgsp.audit.models import AuditEntry
from lgsp.audit.verify import verify_chain
from lgsp.delivery import claims
from lgsp.delivery.models import DvcqgPush, OutboxMessage
from lgsp.delivery.outbox import IdempotencyConflict, NewMessage, accept, enqueue, write_transaction
from lgsp.store.migrate import upgrade


def audit_for(path: str = "/test") -> Any:
    def build(message_id: str, duplicate: bool) -> dict[str, Any]:
        return {"time": datetime.now(UTC), "message_id": message_id, "method": "POST", "path": path,
                "status": 202, "latency_us": 1, "client": "000.00.12.H10/MOTCUA",
                "extra": {"duplicate": duplicate}}
    return build


def outbox_rows(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.seq)))


def audit_rows(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.idx)))


def test_migration_matches_models_and_downgrades(engine: Engine) -> None:
    def diff(conn: Any) -> list[Any]:
        metadata = MetaData()
        for model in (OutboxMessage, DvcqgPush):
            model.metadata.tables[model.__tablename__].to_metadata(metadata)
        mine = {"outbox", "dvcqg_pushes"}

        def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
            table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
            return table in mine

        opts = {"compare_type": True, "include_object": include}
        return compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)

    with engine.connect() as conn:
        changes = diff(conn)
    assert changes == []

    from alembic import command

    from lgsp.store.migrate import alembic_config

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    assert {"outbox", "dvcqg_pushes"}.isdisjoint(inspect(engine).get_table_names())
    upgrade(engine)
    assert {"outbox", "dvcqg_pushes"} <= set(inspect(engine).get_table_names())


def test_enqueue_commits_with_the_callers_transaction_and_audit_entry(engine: Engine) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), write_transaction(engine) as conn:
        enqueue(conn, NewMessage("http", b"lost", destination="http://x"), audit_for())
        raise Boom
    assert outbox_rows(engine) == [] and audit_rows(engine) == []

    with write_transaction(engine) as conn:
        result = enqueue(conn, NewMessage("http", b"kept", destination="http://x", ordering_key="k"), audit_for())
    [row] = outbox_rows(engine)
    [entry] = audit_rows(engine)
    assert row.message_id == result.message_id == entry.message_id
    assert row.audit_index == entry.idx == result.audit_index
    assert row.state == "pending" and row.attempts == 0 and bytes(row.payload) == b"kept"
    assert verify_chain(engine).ok


def test_enqueue_accepts_an_orm_session(engine: Engine) -> None:
    with Session(engine.execution_options(write_lock=True)) as session, session.begin():
        result = enqueue(session, NewMessage("http", b"s"), audit_for())
    assert [r.message_id for r in outbox_rows(engine)] == [result.message_id]


def test_idempotency_key_per_client(engine: Engine) -> None:
    first = accept(engine, NewMessage("http", b"a", client_id="c1", idempotency_key="k-1"), audit_for())
    again = accept(engine, NewMessage("http", b"a", client_id="c1", idempotency_key="k-1"), audit_for())
    other_client = accept(engine, NewMessage("http", b"a", client_id="c2", idempotency_key="k-1"), audit_for())
    assert not first.duplicate and again.duplicate and again.message_id == first.message_id
    assert not other_client.duplicate and other_client.message_id != first.message_id
    with pytest.raises(IdempotencyConflict) as conflict:
        accept(engine, NewMessage("http", b"different", client_id="c1", idempotency_key="k-1"), audit_for())
    assert conflict.value.message_id == first.message_id
    assert len(outbox_rows(engine)) == 2
    entries = audit_rows(engine)  # the duplicate acceptance is audited too, under the first message id
    assert [e.message_id for e in entries].count(first.message_id) == 2
    with pytest.raises(ValueError, match="client_id"):
        NewMessage("http", b"a", idempotency_key="k")


def test_claims_keep_fifo_per_ordering_key(engine: Engine) -> None:
    a1 = accept(engine, NewMessage("t", b"a1", ordering_key="A")).message_id
    a2 = accept(engine, NewMessage("t", b"a2", ordering_key="A")).message_id
    b1 = accept(engine, NewMessage("t", b"b1", ordering_key="B")).message_id
    free = accept(engine, NewMessage("t", b"free")).message_id
    other_kind = accept(engine, NewMessage("other", b"x")).message_id
    batch = claims.claim(engine, ["t"], 10, 30)
    assert [d.message_id for d in batch] == [a1, b1, free]  # a2 waits for a1; "other" has no handler here
    assert claims.claim(engine, ["t"], 10, 30) == []  # nothing else is due
    first = batch[0]
    failed = claims.mark_failed(engine, first, "retryable: down", dead=False, retry_in=0)
    assert failed
    [again] = claims.claim(engine, ["t"], 10, 30)
    assert again.message_id == a1 and again.attempt == 2  # a1 again, a2 still behind it
    assert claims.mark_failed(engine, again, "permanent: refused", dead=True, retry_in=0)
    [next_in_line] = claims.claim(engine, ["t"], 10, 30)
    assert next_in_line.message_id == a2  # a dead message does not block its key
    assert other_kind not in {d.message_id for d in batch}


def test_expired_lease_is_reclaimed_and_the_old_claim_cannot_finish(engine: Engine) -> None:
    message_id = accept(engine, NewMessage("t", b"x", ordering_key="K")).message_id
    later = accept(engine, NewMessage("t", b"y", ordering_key="K")).message_id
    t0 = datetime.now(UTC)
    [old] = claims.claim(engine, ["t"], 5, 10, now=t0)
    assert claims.claim(engine, ["t"], 5, 10, now=t0 + timedelta(seconds=5)) == []  # lease still held
    [new] = claims.claim(engine, ["t"], 5, 10, now=t0 + timedelta(seconds=11))  # the worker "died"
    assert new.message_id == message_id and new.attempt == 2 and new.lease_token != old.lease_token
    assert not claims.mark_delivered(engine, old, "late")  # the dead worker's claim is void
    assert claims.mark_delivered(engine, new, "R-1")
    [row, waiting] = outbox_rows(engine)
    assert row.state == "delivered" and row.remote_id == "R-1" and waiting.message_id == later
    assert claims.open_count(engine) == 1


def test_a_partner_id_longer_than_its_column_still_marks_the_message_delivered(engine: Engine) -> None:
    """On PostgreSQL a 300-character remote id failed the UPDATE (and the worker's group commit with it):
    the message stayed in flight and was delivered again. It is stored cut to the column."""
    accept(engine, NewMessage("t", b"x"))
    [claimed] = claims.claim(engine, ["t"], 5, 10)
    assert claims.mark_delivered(engine, claimed, "R" * 300)
    [row] = outbox_rows(engine)
    assert row.state == "delivered" and row.remote_id == "R" * 200


def test_payload_and_metadata_survive_round_trip(engine: Engine) -> None:
    payload = json.dumps({"ten": "Nguyễn Văn A"}, ensure_ascii=False).encode()
    accept(engine, NewMessage("t", payload, content_type="application/json; charset=utf-8",
                              destination="http://127.0.0.1:9/x", client_id="c", idempotency_key="i"))
    [delivery] = claims.claim(engine, ["t"], 1, 10)
    assert delivery.payload == payload and delivery.content_type == "application/json; charset=utf-8"
    assert (delivery.destination, delivery.client_id, delivery.idempotency_key) == ("http://127.0.0.1:9/x", "c", "i")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_concurrent_claimers_never_share_a_message(engine: Engine) -> None:
    import threading

    ids = {accept(engine, NewMessage("t", str(i).encode())).message_id for i in range(120)}
    claimed: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def claimer() -> None:
        start.wait()
        while batch := claims.claim(engine, ["t"], 7, 60):
            with lock:
                claimed.extend(d.message_id for d in batch)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == len(set(claimed)) == len(ids) and set(claimed) == ids
