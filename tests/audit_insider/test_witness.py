"""Witnesses cosign consistent heads and refuse rollbacks and forks (two real HTTP witnesses)."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import text

from lgsp.audit.checkpoints import checkpoint_document, signed_checkpoint, witness_head
from lgsp.audit.note import open_note, parse_checkpoint

from .conftest import Store
from .tampering import cut_tail
from .witnesses import ORIGIN, two_witnesses


def test_each_new_head_is_cosigned_by_both_witnesses(store: Store, tmp_path: Path) -> None:
    with two_witnesses(store, tmp_path) as (s, witnesses):
        s.write(20)
        s.heads.sign(force=True)
        s.write(13)
        head = s.heads.sign(force=True)
        assert head is not None
        document = checkpoint_document(s.heads, head)
        body, signatures = open_note(document["checkpoint"])
        assert parse_checkpoint(body).tree_size == 33 and parse_checkpoint(body).origin == ORIGIN
        assert len(signatures) == 3  # the log + two witnesses
        for w in witnesses:
            sig = next(x for x in signatures if x.name == w.witness.signer.name)
            assert w.witness.signer.verifier.verify(body, sig) is not None
            assert w.witness.store.latest(ORIGIN) == (33, head.root_hash)


def test_a_rolled_back_and_regrown_log_is_refused_and_flagged(store: Store, tmp_path: Path) -> None:
    with two_witnesses(store, tmp_path) as (s, witnesses):
        s.write(20)
        s.heads.sign(force=True)
        s.write(20)
        s.heads.sign(force=True)
        with s.engine.begin() as conn:
            cut_tail(conn, 20, with_heads=True)
            conn.execute(text("DELETE FROM audit_cosignatures WHERE tree_size > 20"))
        s.write(25)  # a different history, longer than what the witnesses saw
        forked = s.heads.sign(force=True)
        assert forked is not None and forked.tree_size == 45
        assert not checkpoint_document(s.heads, forked)["cosignatures"]
        for w in witnesses:
            assert w.witness.store.latest(ORIGIN)[0] == 40  # type: ignore[index]
            refusals = httpx.get(f"{w.server.url}/lgsp/refusals").json()["refusals"]
            assert any(r["status"] == 422 and "fork or rewrite" in r["reason"] for r in refusals), refusals


def test_a_fork_of_the_same_size_and_a_plain_rollback_are_refused(store: Store, tmp_path: Path) -> None:
    with two_witnesses(store, tmp_path) as (s, witnesses):
        s.write(20)
        old = s.heads.sign(force=True)
        s.write(20)
        s.heads.sign(force=True)
        assert old is not None
        outcome = witness_head(s.heads, old)  # presenting the old head as current: a rollback
        assert all(v.startswith("refused") for v in outcome.values()), outcome
        with s.engine.begin() as conn:
            cut_tail(conn, 20, with_heads=True)
        s.write(20)  # same size 40, different entries
        forked = s.heads.sign(force=True)
        assert forked is not None and forked.tree_size == 40
        outcome = witness_head(s.heads, forked, signed_checkpoint(s.heads.signer, ORIGIN, forked))
        assert all("409" in v for v in outcome.values()), outcome
        for w in witnesses:
            assert w.witness.store.latest(ORIGIN)[1] != forked.root_hash  # type: ignore[index]


def test_a_witness_that_was_down_cosigns_the_latest_head_when_it_is_back(store: Store, tmp_path: Path) -> None:
    from lgsp.audit.checkpoints import cosignature_lines, rewitness_latest
    from lgsp.audit.witness import witness_app
    from lgsp.testing.servers import start_server

    with two_witnesses(store, tmp_path) as (s, witnesses):
        down = witnesses[0]
        port = down.server.port
        down.server.stop()
        s.write(10)
        head = s.heads.sign(force=True)  # one witness unreachable: signing still succeeds
        assert head is not None and len(cosignature_lines(s.engine, 10)) == 1
        down.server = start_server(witness_app(down.witness), port=port)
        assert rewitness_latest(s.heads) == {down.witness.signer.name: "cosigned"}
        assert len(cosignature_lines(s.engine, 10)) == 2
        assert rewitness_latest(s.heads) == {}  # nothing left to ask


def test_a_broken_witness_setting_never_stops_head_signing(store: Store, tmp_path: Path) -> None:
    import dataclasses

    from lgsp.audit.heads import HeadService

    settings = dataclasses.replace(store.settings, audit_witnesses="http://127.0.0.1:1 not-a-key")
    heads = HeadService(store.engine, settings)
    store.write(3)
    head = heads.sign(force=True)  # raised ValueError before the fix
    assert head is not None and head.tree_size == 3
