"""A 50 MB attachment through the façade, the outbox, the axis and the poller (issue 11 item 7), and
the size bound: ``LGSP_MAX_DOCUMENT_BYTES`` (default 100 MB) answers a 413 problem beyond it."""

from __future__ import annotations

import hashlib
import os

import pytest

from adapters.vdxp.edxml import Attachment, new_content_id, write_document
from tests.documents.conftest import PEER, SENDER, Stack, document

MB = 1024 * 1024


def big_packet(sender: str, recipients: tuple[str, ...]) -> bytes:
    pdf = Attachment(new_content_id(), "hoso-50mb.pdf", os.urandom(50 * MB), "application/pdf", "Hồ sơ")
    return write_document(document(sender=sender, recipients=recipients, attachments=[pdf]))


def test_a_50_mb_attachment_goes_out_and_comes_in(docs: Stack) -> None:
    outgoing = big_packet(SENDER, (PEER,))
    assert len(outgoing) > 66 * MB
    reply = docs.post_xml(outgoing)
    assert reply.status_code == 202, reply.text[:500]
    docs.deliver_all()
    sent = docs.http.get(f"/documents/{reply.json()['message_id']}", headers=docs.auth()).json()
    assert sent["delivery_state"] == "delivered"
    (record,) = [r for r in docs.axis.sent.values() if r.sender_doc_id == sent["axis_doc_id"]]
    assert record.document_id == sent["document_id"]
    incoming = big_packet(PEER, (SENDER,))
    docs.peer_send(incoming)
    report = docs.poll()
    assert report.stored == 1 and report.rejected == 0, report
    digest = hashlib.sha256(incoming).hexdigest()
    items = docs.http.get("/documents", params={"direction": "in"}, headers=docs.auth()).json()["items"]
    (kept,) = [i for i in items if i["sha256"] == digest]
    packet = docs.http.get(f"/documents/{kept['id']}/packet", headers=docs.auth())
    assert hashlib.sha256(packet.content).hexdigest() == digest


def test_beyond_lgsp_max_document_bytes_is_a_413_problem(docs: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGSP_MAX_DOCUMENT_BYTES", str(2 * MB))
    data = write_document(document(attachments=[
        Attachment(new_content_id(), "a.pdf", os.urandom(3 * MB), "application/pdf")]))
    before = docs.outbox_count()
    reply = docs.post_xml(data)
    assert reply.status_code == 413
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["type"].endswith("/payload-too-large") and reply.json()["limit"] == 2 * MB
    assert docs.outbox_count() == before


def test_the_poller_can_fetch_with_get_edoc_too(docs: Stack) -> None:
    """``LGSP_VDXP_FETCH=get``: the base64-in-JSON operation, for axes without downloadEdoc."""
    import asyncio

    from adapters.vdxp.handler import make_client
    from adapters.vdxp.poller import ReceivingPoller
    from adapters.vdxp.settings import VdxpSettings

    incoming = write_document(document(sender=PEER, recipients=(SENDER,)))
    docs.peer_send(incoming)

    async def run() -> object:
        client = make_client(docs.vdxp)
        try:
            return await ReceivingPoller(docs.engine, client, docs.vdxp.agencies, fetch="get").run_once()
        finally:
            await client.aclose()

    report = asyncio.run(run())
    assert report.stored == 1, report  # type: ignore[attr-defined]
    assert VdxpSettings.from_env({"LGSP_VDXP_URL": "http://x", "LGSP_VDXP_SYSTEM_ID": "s",
                                  "LGSP_VDXP_SECRET": "k"}).fetch == "download"  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        VdxpSettings.from_env({"LGSP_VDXP_URL": "http://x", "LGSP_VDXP_SYSTEM_ID": "s", "LGSP_VDXP_SECRET": "k",
                               "LGSP_VDXP_FETCH": "ftp"})
