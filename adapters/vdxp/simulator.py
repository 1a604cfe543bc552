"""A real HTTP simulator of the national document-exchange axis (VNPT VXP REST, PROTOCOLS.md §2.1, §7).

It verifies the HMAC headers, the timestamp's freshness and ``hash-file``; parses every packet with our
tolerant edXML reader; queues packets per recipient agency (one receiver doc id per recipient, as
``getSentEdocList``'s senderDocId/receiverDocId suggest); keeps status packets and each document's
status history; and can inject faults (503s, slow answers, duplicate delivery, malformed packets on
fetch, a skewed clock) set in the configuration or at run time through ``/_admin/faults``.

Run standalone (the demo does)::

    python -m adapters.vdxp.simulator --port 8701 --config sim.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import hmac_auth
from .edxml import EdxmlError, StatusCode, can_transition, hash_file, is_agency_code, read_packet
from .edxml.models import DocumentPacket, StatusPacket
from .simulator_config import DirectoryEntry, Faults, SimulatorConfig, SystemCredential, example_config

ADMIN_TOKEN_HEADER = "X-Simulator-Admin-Token"
QUEUE_STATUSES = ("initial", "processing", "done", "fail")
_STATUS_DESC = {"initial": "Chờ nhận", "processing": "Đang nhận", "done": "Đã nhận", "fail": "Nhận lỗi"}
_GARBAGE = b"\x00\x13\xfe\x7f"


class AxisFault(Exception):
    """An error answer: HTTP status + the axis' ErrorCode/ErrorDesc."""

    def __init__(self, status: int, code: str, desc: str) -> None:
        self.status = status
        self.code = code
        self.desc = desc
        super().__init__(f"{status} {code}: {desc}")


def _now_text(moment: datetime) -> str:
    return moment.astimezone(hmac_auth.VIETNAM).strftime("%Y/%m/%d %H:%M:%S")


@dataclass
class QueuedMessage:
    """One packet waiting for (or delivered to) one recipient agency."""

    doc_id: str
    sender_doc_id: str
    message_type: str
    from_: str
    to: str
    packet: bytes
    created: datetime
    updated: datetime
    status: str = "initial"
    fetch_count: int = 0

    def as_list_item(self) -> dict[str, str]:
        return {
            "docId": self.doc_id,
            "serviceType": "eDoc",
            "messageType": self.message_type,
            "created_time": _now_text(self.created),
            "updated_time": _now_text(self.updated),
            "from": self.from_,
            "to": self.to,
            "status": self.status,
            "status_desc": _STATUS_DESC[self.status],
        }


@dataclass
class SentRecord:
    sender_doc_id: str
    system_id: str
    message_type: str
    from_: str
    notation: str
    title: str
    sent: datetime
    receiver_doc_ids: list[str] = field(default_factory=list)
    document_id: str = ""


@dataclass
class StatusEvent:
    """A business status packet seen by the axis, kept per original DocumentId."""

    from_: str
    code: str
    timestamp: str
    valid_transition: bool


class AxisState:
    """Everything the simulator knows; guarded by one lock (tests read it from other threads)."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.systems: dict[str, SystemCredential] = {s.system_id: s for s in config.systems}
        self.faults = config.faults
        self.rng = random.Random(config.faults.seed)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.directory: dict[str, DirectoryEntry] = {a.code: a for a in self.config.agencies}
            self.messages: dict[str, QueuedMessage] = {}
            self.sent: dict[str, SentRecord] = {}
            self.status_history: dict[str, list[StatusEvent]] = {}
            self.request_count = 0
            self.injected: dict[str, int] = {}

    def secrets(self) -> dict[str, str]:
        return {system_id: s.secret for system_id, s in self.systems.items()}

    def roll(self, probability: float, name: str) -> bool:
        with self.lock:
            hit = probability > 0 and self.rng.random() < probability
            if hit:
                self.injected[name] = self.injected.get(name, 0) + 1
            return hit

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "messages": [
                    {
                        **m.as_list_item(),
                        "senderDocId": m.sender_doc_id,
                        "fetchCount": m.fetch_count,
                        "hashFile": hash_file(m.packet),
                    }
                    for m in self.messages.values()
                ],
                "sent": [
                    {
                        "senderDocId": s.sender_doc_id,
                        "systemId": s.system_id,
                        "messageType": s.message_type,
                        "from": s.from_,
                        "documentId": s.document_id,
                        "receiverDocIds": s.receiver_doc_ids,
                    }
                    for s in self.sent.values()
                ],
                "statusHistory": {
                    doc: [
                        {
                            "from": e.from_,
                            "code": e.code,
                            "timestamp": e.timestamp,
                            "valid": e.valid_transition,
                        }
                        for e in events
                    ]
                    for doc, events in self.status_history.items()
                },
                "agencies": sorted(self.directory),
                "requests": self.request_count,
                "injected": dict(self.injected),
                "faults": self.faults.as_dict(),
            }


# ------------------------------------------------------------------------------------------ helpers


def _ok(**data: Any) -> JSONResponse:
    return JSONResponse({"status": "OK", "ErrorCode": "0", "ErrorDesc": "", **data})


def _fail(fault: AxisFault) -> JSONResponse:
    return JSONResponse({"status": "FAIL", "ErrorCode": fault.code, "ErrorDesc": fault.desc}, fault.status)


def _system(state: AxisState, verified: hmac_auth.VerifiedRequest) -> SystemCredential:
    return state.systems[verified.system_id]


def _own_agencies(state: AxisState, system: SystemCredential, requested: str | None) -> set[str] | None:
    """The recipient agencies a listing may show; None = every agency (a ``*`` system)."""
    if requested:
        if not system.may_act_for(requested):
            raise AxisFault(403, "FORBIDDEN_AGENCY", f"system {system.system_id} does not act for {requested}")
        return {requested}
    if system.may_act_for("*"):
        return None
    return set(system.agencies)


def _message_for(state: AxisState, system: SystemCredential, doc_id: str) -> QueuedMessage:
    message = state.messages.get(doc_id)
    if message is None or not system.may_act_for(message.to):
        raise AxisFault(404, "NOT_FOUND", f"no message {doc_id} for this system")
    return message


# ------------------------------------------------------------------------------------------ operations

Handler = Callable[[Request, AxisState, hmac_auth.VerifiedRequest], Awaitable[Response]]


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


async def get_agencies(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    with state.lock:
        rows = [entry.as_axis_json() for entry in sorted(state.directory.values(), key=lambda e: e.code)]
    return _ok(data=rows)


async def get_synchronize_unit(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    with state.lock:
        rows = [
            {
                "id": e.id or e.code,
                "pid": e.pid,
                "code": e.code,
                "name": e.name,
                "mail": e.mail,
                "centerCode": "",
                "version": 1,
                "deleted": False,
                "modifyDate": "",
                "isAgency": True,
            }
            for e in sorted(state.directory.values(), key=lambda e: e.code)
        ]
    return _ok(data=rows)


async def register_agency(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise AxisFault(400, "BAD_JSON", "registerAgency needs a JSON body") from exc
    if not isinstance(body, dict):
        raise AxisFault(400, "BAD_JSON", "registerAgency needs a JSON object")
    code = str(body.get("code") or "")
    name = str(body.get("name") or "")
    if not is_agency_code(code):
        raise AxisFault(400, "BAD_AGENCY_CODE", f"{code!r} is not an agency code NNN.NN.NN.XNN "
                        "or another accepted form (LGSP_AGENCY_ID_PATTERNS)")
    if not name.strip():
        raise AxisFault(400, "MISSING_NAME", "an agency needs a name")
    entry = DirectoryEntry(
        code=code,
        name=name,
        id=str(body.get("id") or ""),
        pid=str(body.get("pcode") or ""),
        mail=str(body.get("mail") or ""),
        mobile=str(body.get("mobile") or ""),
        fax=str(body.get("fax") or ""),
    )
    with state.lock:
        state.directory[code] = entry
    return _ok()


async def delete_agency(request: Request, state: AxisState, verified: hmac_auth.VerifiedRequest) -> Response:
    code = verified.fields["AgencyCode"]
    with state.lock:
        if state.directory.pop(code, None) is None:
            raise AxisFault(404, "NOT_FOUND", f"agency {code} is not registered")
    return _ok()


# ------------------------------------------------------------------------------------------ plumbing


def _clock(state: AxisState) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=state.faults.clock_offset_s)


def _endpoint(handler: Handler, required: tuple[str, ...] = ()) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: AxisState = request.app.state.axis
        with state.lock:
            state.request_count += 1
        faults = state.faults
        if faults.slow_ms and state.roll(faults.slow_rate, "slow"):
            await asyncio.sleep(faults.slow_ms / 1000)
        try:
            if state.roll(faults.error_rate, "error"):
                raise AxisFault(503, "INJECTED_FAULT", "injected failure (service unavailable)")
            skew = state.config.max_clock_skew_s
            try:
                verified = hmac_auth.verify(
                    request.headers,
                    state.secrets(),
                    now=_clock(state),
                    max_skew=None if skew is None else timedelta(seconds=skew),
                    required=("systemid", *required),
                )
            except hmac_auth.HmacAuthError as exc:
                raise AxisFault(401, exc.code, exc.message) from exc
            return await handler(request, state, verified)
        except AxisFault as fault:
            return _fail(fault)

    return endpoint


def _admin(
    handler: Callable[[Request, AxisState], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: AxisState = request.app.state.axis
        token = state.config.admin_token
        if token is not None and request.headers.get(ADMIN_TOKEN_HEADER) != token:
            return JSONResponse({"error": "admin token required"}, 401)
        return await handler(request, state)

    return endpoint


async def admin_state(request: Request, state: AxisState) -> Response:
    return JSONResponse(state.snapshot())


async def admin_faults(request: Request, state: AxisState) -> Response:
    if request.method == "PUT":
        try:
            data = await request.json()
            merged = {**state.faults.as_dict(), **data} if request.query_params.get("merge") else data
            faults = Faults.from_mapping(merged)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        with state.lock:
            state.faults = faults
            state.rng = random.Random(faults.seed)
    return JSONResponse(state.faults.as_dict())


async def admin_reset(request: Request, state: AxisState) -> Response:
    state.reset()
    return JSONResponse({"reset": True})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "OK"})


def create_simulator_app(config: SimulatorConfig | Mapping[str, Any]) -> Starlette:
    """The simulator as an ASGI app; ``app.state.axis`` is its :class:`AxisState`."""
    if not isinstance(config, SimulatorConfig):
        config = SimulatorConfig.from_mapping(config)
    config.faults.validate()
    ops: list[tuple[str, Handler, tuple[str, ...]]] = [
        ("sendEdoc", send_edoc, ("from", "messagetype", "hash-file")),
        ("getReceivedEdocList", get_received_list, ()),
        ("getEdoc", get_edoc, ("docId",)),
        ("downloadEdoc", download_edoc, ("docId",)),
        ("updateStatus", update_status, ("docId", "status")),
        ("getSentEdocList", get_sent_list, ()),
        ("countReceiveEdoc", count_edoc, ()),
        ("countReceiveStatus", count_status, ()),
        ("getAgenciesList", get_agencies, ()),
        ("getAgenciesListQD20", get_agencies, ()),
        ("getSynchronizeUnit", get_synchronize_unit, ()),
        ("registerAgency", register_agency, ()),
        ("deleteAgency", delete_agency, ("AgencyCode",)),
    ]
    routes = [Route(f"/{name}", _endpoint(handler, required), methods=["POST"]) for name, handler, required in ops]
    routes[3] = Route("/downloadEdoc", _endpoint(download_edoc, ("docId",)), methods=["GET", "POST"])
    routes += [
        Route("/_admin/health", health, methods=["GET"]),
        Route("/_admin/state", _admin(admin_state), methods=["GET"]),
        Route("/_admin/faults", _admin(admin_faults), methods=["GET", "PUT"]),
        Route("/_admin/reset", _admin(admin_reset), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.axis = AxisState(config)
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from lgsp.sdk.simulator import run_uvicorn, shutdown

    shutdown.install()  # SIGTERM from here on ends in exit 0 (see lgsp.shutdown)
    parser = argparse.ArgumentParser(description="Simulator of the national document-exchange axis (VXP REST)")
    parser.add_argument("--config", required=True, help="YAML or JSON file: systems, agencies, faults")
    parser.add_argument(
        "--init-config",
        action="store_true",
        help="write an example --config with generated secrets (mode 0600) and exit",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if args.init_config:
        path = Path(args.config)
        if path.exists():
            parser.error(f"{path} exists; refusing to overwrite secrets")
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(example_config(), allow_unicode=True, sort_keys=False), encoding="utf-8")
        print(f"wrote {path}")
        return
    if args.port is None:
        parser.error("--port is required")
    app = create_simulator_app(SimulatorConfig.load(args.config))
    run_uvicorn(uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level))


if __name__ == "__main__":
    main()
