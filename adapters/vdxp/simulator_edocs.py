"""The axis simulator's document operations (PROTOCOLS.md §2.1): sendEdoc, the received and sent lists,
getEdoc/downloadEdoc (with the malformed-packet and duplicate faults), updateStatus and the counters.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from . import hmac_auth
from .edxml import EdxmlError, StatusCode, can_transition, hash_file, read_packet
from .edxml.models import DocumentPacket, StatusPacket
from .simulator_state import (
    _GARBAGE,
    _STATUS_DESC,
    QUEUE_STATUSES,
    AxisFault,
    AxisState,
    QueuedMessage,
    SentRecord,
    StatusEvent,
    _clock,
    _message_for,
    _now_text,
    _ok,
    _own_agencies,
    _system,
)


async def _read_upload(request: Request, state: AxisState) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > state.config.max_packet_bytes + 64 * 1024:
        raise AxisFault(413, "TOO_LARGE", f"packet larger than {state.config.max_packet_bytes} bytes")
    try:
        form = await request.form(max_files=1, max_fields=10, max_part_size=state.config.max_packet_bytes)
    except Exception as exc:  # starlette raises MultiPartException/HTTPException subclasses
        raise AxisFault(400, "BAD_MULTIPART", f"body is not multipart/form-data with file_doc: {exc}") from exc
    part = form.get("file_doc")
    if part is None:
        raise AxisFault(400, "MISSING_FILE", "multipart part 'file_doc' is required")
    data = await part.read() if isinstance(part, UploadFile) else part.encode("utf-8")
    if len(data) > state.config.max_packet_bytes:
        raise AxisFault(413, "TOO_LARGE", f"packet larger than {state.config.max_packet_bytes} bytes")
    return data


def _recipients(packet: DocumentPacket | StatusPacket, override: str | None) -> list[str]:
    if override:
        try:
            listed = json.loads(override)
        except ValueError:
            listed = [part.strip() for part in override.split(",")]
        if not isinstance(listed, list) or not all(isinstance(x, str) for x in listed):
            raise AxisFault(400, "BAD_TO", "header 'to' must be a JSON array of agency codes")
        return list(dict.fromkeys(listed))
    if isinstance(packet, StatusPacket):
        return [packet.response_for.organ_id]
    return list(dict.fromkeys(org.organ_id for org in packet.header.to))


async def send_edoc(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    fields = verified.fields
    system = _system(state, verified)
    data = await _read_upload(request, state)
    if fields["hash-file"].lower() != hash_file(data):
        raise AxisFault(400, "HASH_MISMATCH", "hash-file is not the SHA-256 of the uploaded file_doc")
    sender = fields["from"]
    if not system.may_act_for(sender):
        raise AxisFault(403, "FORBIDDEN_SENDER", f"system {system.system_id} may not send as {sender}")
    message_type = fields["messagetype"].lower()
    if message_type not in ("edoc", "status"):
        raise AxisFault(400, "BAD_MESSAGE_TYPE", f"messagetype {fields['messagetype']!r} is not edoc|status")
    try:
        result = read_packet(data, max_bytes=state.config.max_packet_bytes)
    except EdxmlError as exc:
        raise AxisFault(400, "INVALID_PACKET", str(exc)) from exc
    packet = result.packet
    kind = "status" if isinstance(packet, StatusPacket) else "edoc"
    if kind != message_type:
        raise AxisFault(400, "MESSAGE_TYPE_MISMATCH", f"messagetype is {message_type} but the packet is {kind}")
    packet_sender = packet.from_.organ_id if isinstance(packet, StatusPacket) else packet.header.from_.organ_id
    if packet_sender != sender:
        raise AxisFault(400, "SENDER_MISMATCH", f"header from={sender} but the packet's From is {packet_sender}")
    recipients = _recipients(packet, fields.get("to"))
    if not recipients:
        raise AxisFault(400, "NO_RECIPIENT", "the packet names no recipient")
    now = _clock(state)
    with state.lock:
        unknown = [code for code in recipients if code not in state.directory]
        if unknown:
            raise AxisFault(400, "UNKNOWN_RECIPIENT", f"not in the agency directory: {', '.join(unknown)}")
        sender_doc_id = str(uuid.uuid4())
        if isinstance(packet, StatusPacket):
            record = SentRecord(
                sender_doc_id,
                system.system_id,
                kind,
                sender,
                f"status {packet.status_code.value}",
                packet.description,
                now,
                document_id=packet.response_for.document_id,
            )
            _record_status(state, packet)
        else:
            record = SentRecord(
                sender_doc_id,
                system.system_id,
                kind,
                sender,
                str(packet.header.code),
                packet.header.subject,
                now,
                document_id=packet.header.document_id,
            )
        state.sent[sender_doc_id] = record
    copies = 2 if state.roll(state.faults.duplicate_rate, "duplicate") else 1
    with state.lock:
        for recipient in recipients:
            for _ in range(copies):
                doc_id = str(uuid.uuid4())
                state.messages[doc_id] = QueuedMessage(doc_id, sender_doc_id, kind, sender, recipient, data, now, now)
                record.receiver_doc_ids.append(doc_id)
    if state.roll(state.faults.error_after_commit_rate, "error_after_commit"):
        raise AxisFault(503, "INJECTED_FAULT", "injected failure after the packet was queued")
    return _ok(DocId=sender_doc_id, Warnings=[f"{d.code}@{d.path}" for d in result.deviations])


def _record_status(state: AxisState, packet: StatusPacket) -> None:
    """Keep the status history per document (caller holds the lock); invalid transitions are flagged."""
    history = state.status_history.setdefault(packet.response_for.document_id, [])
    mine = [e for e in history if e.from_ == packet.from_.organ_id]
    previous = StatusCode(mine[-1].code) if mine else None
    valid = can_transition(previous, packet.status_code)
    history.append(
        StatusEvent(
            packet.from_.organ_id,
            packet.status_code.value,
            _now_text(packet.timestamp.replace(tzinfo=hmac_auth.VIETNAM)),
            valid,
        )
    )


async def get_received_list(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    fields = verified.fields
    system = _system(state, verified)
    agencies = _own_agencies(state, system, fields.get("to"))
    message_type = fields.get("messagetype", "").lower() or None
    wanted_status = fields.get("status", "").lower() or None
    if wanted_status and wanted_status not in QUEUE_STATUSES:
        raise AxisFault(400, "BAD_STATUS", f"status filter must be one of {', '.join(QUEUE_STATUSES)}")
    with state.lock:
        items = [
            m
            for m in state.messages.values()
            if (agencies is None or m.to in agencies)
            and (message_type is None or m.message_type == message_type)
            and (m.status == wanted_status if wanted_status else m.status in ("initial", "processing"))
        ]
        items.sort(key=lambda m: m.created)
        rows = [m.as_list_item() for m in items]
    rows = _page(rows, fields)
    return _ok(data=rows)


def _page(rows: list[dict[str, str]], fields: Mapping[str, str]) -> list[dict[str, str]]:
    size, index = fields.get("pageSize", ""), fields.get("pageIndex", "")
    if not size:
        return rows
    if not size.isdigit() or int(size) < 1 or (index and not index.isdigit()):
        raise AxisFault(400, "BAD_PAGE", "pageSize/pageIndex must be positive integers")
    start = (int(index or "1") - 1) * int(size)
    return rows[start : start + int(size)]


async def get_edoc(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    packet = _fetch(state, verified)
    return _ok(data=base64.b64encode(packet).decode("ascii"))


def _fetch(state: AxisState, verified: hmac_auth.VerifiedRequest) -> bytes:
    system = _system(state, verified)
    with state.lock:
        message = _message_for(state, system, verified.fields["docId"])
        message.fetch_count += 1
        packet = message.packet
    if state.roll(state.faults.malformed_fetch_rate, "malformed_fetch"):
        return _GARBAGE + packet
    return packet


async def download_edoc(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    return Response(_fetch(state, verified), media_type="application/xml")


async def update_status(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    status = verified.fields["status"].lower()
    if status not in ("processing", "done", "fail"):
        raise AxisFault(400, "BAD_STATUS", f"status {status!r} is not processing|done|fail")
    system = _system(state, verified)
    with state.lock:
        message = _message_for(state, system, verified.fields["docId"])
        message.status = status
        message.updated = _clock(state)
    if state.roll(state.faults.error_after_commit_rate, "error_after_commit"):
        raise AxisFault(503, "INJECTED_FAULT", "injected failure after the status was stored")
    return _ok()


async def get_sent_list(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    fields = verified.fields
    system = _system(state, verified)
    message_type = fields.get("messagetype", "").lower() or None
    wanted = fields.get("docId") or None
    rows: list[dict[str, str]] = []
    with state.lock:
        for record in state.sent.values():
            if record.system_id != system.system_id or (message_type and record.message_type != message_type):
                continue
            if wanted and record.sender_doc_id != wanted:
                continue
            for receiver_id in record.receiver_doc_ids:
                message = state.messages[receiver_id]
                rows.append(
                    {
                        "serviceType": "eDoc",
                        "messageType": record.message_type,
                        "senderDocId": record.sender_doc_id,
                        "receiverDocId": receiver_id,
                        "fromCode": record.from_,
                        "toCode": message.to,
                        "notation": record.notation,
                        "title": record.title,
                        "sentTime": _now_text(record.sent),
                        "receivedTime": _now_text(message.updated) if message.status == "done" else "",
                        "sendStatus": "done",
                        "sendStatusDesc": "Đã gửi",
                        "receiveStatus": message.status,
                        "receiveStatusDesc": _STATUS_DESC[message.status],
                    }
                )
    return _ok(data=rows)


async def count_received(
    request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest, message_type: str
) -> Response:
    system = _system(state, verified)
    agencies = _own_agencies(state, system, verified.fields.get("to"))
    with state.lock:
        count = sum(
            1
            for m in state.messages.values()
            if m.message_type == message_type
            and m.status in ("initial", "processing")
            and (agencies is None or m.to in agencies)
        )
    return _ok(count=count)


async def count_edoc(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    return await count_received(request, state, verified, "edoc")


async def count_status(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    return await count_received(request, state, verified, "status")
