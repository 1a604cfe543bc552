"""What the axis simulator holds and what every operation shares: queued messages, sent records and status
history per system (:class:`AxisState`), the fault switches' dice, the (possibly skewed) clock, and the
axis' JSON answer shapes (``ErrorCode``/``ErrorDesc``). See :mod:`adapters.vdxp.simulator`.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import hmac_auth
from .edxml import hash_file
from .simulator_config import DirectoryEntry, SimulatorConfig, SystemCredential

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


Handler = Callable[[Request, AxisState, hmac_auth.VerifiedRequest], Awaitable[Response]]


def _clock(state: AxisState) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=state.faults.clock_offset_s)
