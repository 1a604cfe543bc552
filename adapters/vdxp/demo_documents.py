"""``demo_documents``: one official document goes out through lgsp, and a status packet comes back.

What it shows, step by step (each step printed):

1. the DMS of the sending agency posts an edXML công văn to ``POST /documents`` → ``202`` + message id;
2. the delivery worker hands it to the axis (``sendEdoc``) → the document shows ``delivered`` + axis doc id;
3. the recipient (a peer system on the axis) fetches it and answers with a status packet "03 Đã tiếp nhận";
4. lgsp's receiving poller stores that packet → ``GET /documents/{id}`` lists it under ``statuses``.

Steps 2 and 4 need lgsp's workers. Pass ``engine`` and ``vdxp`` (the lgsp axis settings) to run one
delivery and one receiving round in this process; leave them out when ``lgsp worker`` is running and the
function just waits for it.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine

from adapters.vdxp.client import AxisClient
from adapters.vdxp.edxml import (
    Attachment,
    Code,
    DocumentPacket,
    DocumentType,
    MessageHeader,
    Organization,
    PromulgationInfo,
    SignerInfo,
    StaffInfo,
    StatusCode,
    StatusPacket,
    StatusResponseFor,
    TraceHeader,
    TraceHeaderList,
    new_content_id,
    read_document,
    write_document,
    write_status,
)
from adapters.vdxp.handler import SEND_KIND, AxisSendHandler, make_client
from adapters.vdxp.poller import ReceivingPoller, sync_directory
from adapters.vdxp.settings import VdxpSettings
from lgsp.sdk.documents import deliver_until_done


def _http(method: str, url: str, token: str, body: bytes | None = None,
          content_type: str = "application/json") -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method,  # noqa: S310 - our own http URL
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def demo_packet(sender: str, recipient: str, number: str = "") -> bytes:
    """A small công văn with one PDF attachment, from ``sender`` to ``recipient``."""
    number = number or str(int(time.time()) % 100000)
    today = date.today()
    header = MessageHeader(
        from_=Organization(sender, organ_name="Sở Thông tin và Truyền thông thành phố Cần Thơ"),
        to=[Organization(recipient, organ_name="Cơ quan nhận")],
        document_id=f"{sender},{today:%Y/%m/%d},{number}/STTTT-VP",
        code=Code(number, "STTTT-VP"),
        promulgation_info=PromulgationInfo(today, "Cần Thơ"),
        document_type=DocumentType(1, 1, "Công văn"),
        subject="V/v thử nghiệm liên thông văn bản qua LGSP Cần Thơ",
        content="Văn bản thử nghiệm của bản trình diễn lgsp.",
        signer_info=SignerInfo("KT. GIÁM ĐỐC", "Phó Giám đốc", "Nguyễn Văn An"),
    )
    trace = TraceHeaderList([TraceHeader(sender, datetime.now().replace(microsecond=0))])
    pdf = Attachment(new_content_id(), "congvan.pdf", b"%PDF-1.7 demo\n" * 50, "application/pdf", "Công văn")
    return write_document(DocumentPacket(header, trace, [pdf]))


def demo_documents(base_url: str, token: str, *, axis_url: str, peer_system_id: str, peer_secret: str,
                   sender: str, recipient: str, engine: Engine | None = None, vdxp: VdxpSettings | None = None,
                   say: Callable[[str], None] = print, timeout: float = 60.0) -> dict[str, Any]:
    """Run the round trip; returns the final ``GET /documents/{id}`` of the sent document.

    ``token`` is a ``gateway``-scope token of a DMS system of ``sender``; ``peer_*`` are the axis
    credentials of a system acting for ``recipient`` (the axis simulator's config has them).
    """
    base = base_url.rstrip("/")
    packet = demo_packet(sender, recipient)
    status, answer = _http("POST", f"{base}/documents?kind=edoc", token, packet, "application/xml")
    if status != 202:
        raise RuntimeError(f"POST /documents answered {status}: {answer}")
    message_id = answer["message_id"]
    say(f"1. DMS of {sender} sent a công văn → 202, message id {message_id}")
    return asyncio.run(_rest(base, token, message_id, packet, axis_url, peer_system_id, peer_secret, sender,
                             engine, vdxp, say, timeout))


async def _rest(base: str, token: str, message_id: str, packet: bytes, axis_url: str, peer_id: str,
                peer_secret: str, sender: str, engine: Engine | None, vdxp: VdxpSettings | None,
                say: Callable[[str], None], limit_seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + limit_seconds
    if engine is not None and vdxp is not None:
        await deliver_until_done(engine, {SEND_KIND: AxisSendHandler(make_client(vdxp))}, limit_seconds)
    doc = await _wait(base, token, message_id, lambda d: d.get("delivery_state") == "delivered", deadline)
    say(f"2. lgsp delivered it to the axis → axis doc id {doc['axis_doc_id']}")
    async with AxisClient(axis_url, peer_id, peer_secret) as peer:
        waiting = [m for m in await peer.list_received("edoc") if m.from_ == sender]
        fetched = None
        for item in waiting:
            data = await peer.get_edoc(item.doc_id)
            if data == packet:
                fetched = item
                await peer.update_status(item.doc_id, "done")
        if fetched is None:
            raise RuntimeError("the recipient did not find the document on the axis")
        original = read_document(packet, schema_check=False).packet.header
        reply = StatusPacket(
            from_=original.to[0], response_for=StatusResponseFor(sender, str(original.code), original.document_id,
                                                                 original.promulgation_info.promulgation_date),
            status_code=StatusCode.ACCEPTED, timestamp=datetime.now().replace(microsecond=0),
            description="Đã tiếp nhận, vào sổ văn bản đến", staff_info=StaffInfo(staff="Văn thư"))
        await peer.send_edoc(write_status(reply))
    say(f"3. the recipient fetched it (axis doc {fetched.doc_id}) and answered with status 03 Đã tiếp nhận")
    if engine is not None and vdxp is not None:
        client = make_client(vdxp)
        try:
            await sync_directory(engine, client)
            await ReceivingPoller(engine, client, vdxp.agencies).run_once()
        finally:
            await client.aclose()
    doc = await _wait(base, token, message_id, lambda d: bool(d.get("statuses")), deadline)
    latest = doc["statuses"][-1]
    say(f"4. lgsp received the status packet: {latest['status_code']} {latest['description']} "
        f"from {latest['from']} → visible at GET /documents/{message_id}")
    return doc


async def _wait(base: str, token: str, message_id: str, done: Callable[[dict[str, Any]], bool],
                deadline: float) -> dict[str, Any]:
    while True:
        status, doc = await asyncio.to_thread(_http, "GET", f"{base}/documents/{message_id}", token)
        if status == 200 and done(doc):
            return dict(doc)
        if time.monotonic() > deadline:
            raise TimeoutError(f"document {message_id} did not get there in time (last answer {status}: {doc})")
        await asyncio.sleep(0.2)
