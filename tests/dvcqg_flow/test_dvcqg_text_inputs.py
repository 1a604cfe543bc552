"""Dossier events whose text no XML document can carry are refused at intake, naming the field.

Before, ``POST /dossiers/events`` answered 202 to NUL, other C0 controls, U+FFFE/U+FFFF and lone
surrogates anywhere in the dossier, its progress note or an unknown extra field, and the event went on to
the portal as it was (a lone ``\\ud800`` escape was a 400 for the whole body, naming nothing). Both stores.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.dvcqg.delivery import KIND
from lgsp.delivery.models import OutboxMessage
from lgsp.delivery.outbox import NewMessage, accept
from tests.dvcqg_flow.conftest import Flow, dossier_code, event
from tests.dvcqg_flow.test_dossier_flow import outbox_row

PROBLEM = "application/problem+json"
BAD = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1f", "\ufffe", "\uffff"]


def queued(flow: Flow, code: str) -> int:
    with Session(flow.engine) as session:
        return int(session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.ordering_key == code)) or 0)


def refused(flow: Flow, code: str, body: Any, field: str) -> dict[str, Any]:
    reply = flow.post_event(body)
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    problem = reply.json()
    assert problem["type"] == "https://lgsp.dev/problems/validation-failed"
    assert field in [error["field"] for error in problem["errors"]], problem
    assert queued(flow, code) == 0 and code not in flow.sim.dossiers
    return dict(problem)


@pytest.mark.parametrize("char", BAD, ids=[f"U+{ord(c):04X}" for c in BAD])
def test_a_control_or_non_character_in_dossier_text_is_a_422_naming_it(flow: Flow, char: str) -> None:
    code = dossier_code()
    problem = refused(flow, code, event(code, ChuHoSo=f"Nguyễn{char}Văn A"), "dossier.ChuHoSo")
    assert f"U+{ord(char):04X}" in problem["detail"]


@pytest.mark.parametrize(("where", "field"), [
    ("GhiChu", "dossier.GhiChu"),
    ("TaiLieuNop", "dossier.TaiLieuNop[0].TenTepDinhKem"),
    ("extra", "dossier.TruongRieng"),
    ("key", "dossier"),
    ("progress", "progress.NoiDungXuLy"),
    ("status", "local_status"),
    ("sub_status", "local_sub_status"),
])
def test_every_place_text_can_hide_is_checked(flow: Flow, where: str, field: str) -> None:
    code = dossier_code()
    body = event(code)
    text = "a\x00b"
    if where == "GhiChu":
        body["dossier"]["GhiChu"] = text
    elif where == "TaiLieuNop":
        body["dossier"]["TaiLieuNop"] = [{"TepDinhKemId": 1, "TenTepDinhKem": text}]
    elif where == "extra":
        body["dossier"]["TruongRieng"] = text  # an unknown field: kept and sent on, so checked too
    elif where == "key":
        body["dossier"][text] = "x"
    elif where == "progress":
        body["progress"]["NoiDungXuLy"] = text
    elif where == "status":
        body["local_status"] = "receiving\x00"
    else:
        body["local_sub_status"] = text
    refused(flow, code, body, field)


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\u0000", "\\uffff", "\\u001b"])
def test_json_escapes_of_such_characters_are_refused_by_field(flow: Flow, escape: str) -> None:
    """A lone surrogate escape was a 400 for the whole body; now it is the same 422 as the others."""
    code = dossier_code()
    body = json.dumps(event(code, ChuHoSo="__X__")).replace("__X__", f"A{escape}B").encode()
    refused(flow, code, body, "dossier.ChuHoSo")


async def test_text_xml_can_carry_still_goes_through(flow: Flow) -> None:
    """Tab, newlines, U+FFFD, characters past the BMP and a surrogate pair written as two escapes are fine."""
    code = dossier_code()
    note = "dòng 1\r\n\tdòng 2 \ufffd \U0001f600 \ud7ff\ue000"
    body = json.dumps(event(code, GhiChu="__X__"), ensure_ascii=False).replace(
        "__X__", json.dumps(note)[1:-1] + "\\ud83d\\ude00").encode()
    reply = flow.post_event(body)
    assert reply.status_code == 202, reply.text
    await flow.deliver_all()
    assert flow.sim.dossiers[code]["GhiChu"] == note + "\U0001f600"
    assert outbox_row(flow, reply.json()["message_id"]).state == "delivered"


async def test_an_event_stored_before_the_rule_dead_letters_and_is_not_sent(flow: Flow) -> None:
    code = dossier_code()
    payload = json.dumps(event(code, ChuHoSo="A\x00B")).encode()
    enqueued = accept(flow.engine, NewMessage(kind=KIND, payload=payload, ordering_key=code))
    await flow.deliver_all()
    row = outbox_row(flow, enqueued.message_id)
    assert row.state == "dead" and "dossier.ChuHoSo" in (row.last_error or "") and "U+0000" in (row.last_error or "")
    assert code not in flow.sim.dossiers


@pytest.mark.parametrize("raw_id", ["%00", "a%00b", "%ED%A0%80", "%EF%BF%BE", "x" * 37])
def test_an_event_id_no_store_can_hold_is_a_404(flow: Flow, raw_id: str) -> None:
    """``GET /dossiers/events/%00`` was a 500 on PostgreSQL (NUL in the query), found by tests/security fuzz."""
    reply = flow.http.get(f"/dossiers/events/{raw_id}", headers={"Authorization": f"Bearer {flow.token()}"})
    assert reply.status_code == 404, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM) and reply.json()["type"].endswith("/not-found")
