"""Async client of the national document-exchange axis (VNPT VXP REST protocol, PROTOCOLS.md §2.1).

What the lgsp store-and-forward worker and the receiving poller call::

    async with AxisClient(url, system_id, secret) as axis:
        doc_id = await axis.send_edoc(packet_bytes)          # edoc or status packet
        for item in await axis.list_received():
            packet = await axis.get_edoc(item.doc_id)
            ...store it...
            await axis.update_status(item.doc_id, "done")

Every call is ``POST {base}/{operation}`` with HMAC-signed ``XroadVnpt-*`` headers (:mod:`.hmac_auth`);
failures raise :class:`RetryableAxisError` or :class:`PermanentAxisError`.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from lgsp import jsontext

from . import hmac_auth
from .edxml import EdxmlError, hash_file, read_packet
from .edxml.models import StatusPacket
from .edxml.reader import DEFAULT_MAX_PACKET_BYTES
from .errors import AxisError, AxisResponseTooLarge, PermanentAxisError, RetryableAxisError
from .transport import AiohttpTransport, Body, Transport, TransportResponse

MessageType = Literal["edoc", "status"]
QueueStatus = Literal["done", "fail", "processing"]
QUEUE_STATUSES: frozenset[str] = frozenset({"done", "fail", "processing"})
_RETRYABLE_4XX = frozenset({408, 425, 429})


@dataclass(frozen=True)
class ReceivedEdoc:
    """One entry of ``getReceivedEdocList``."""

    doc_id: str
    message_type: str
    from_: str
    to: str
    status: str
    status_desc: str = ""
    service_type: str = "eDoc"
    created_time: str = ""
    updated_time: str = ""


@dataclass(frozen=True)
class Agency:
    """One entry of ``getAgenciesList`` (``code102`` = the QCVN 102 code when ``code`` is a QĐ 20 code)."""

    code: str
    name: str
    id: str = ""
    pid: str = ""
    mail: str = ""
    old_code: str = ""
    code102: str = ""


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value)


def _rows(operation: str, data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``data`` list of a listing answer (absent or null: none); anything else is a garbled answer.

    Why: ``data: 5`` raised a TypeError out of the poller's round, so one agency's garbled listing kept
    every agency after it from being polled; a string was iterated character by character.
    """
    rows = data.get("data")
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise RetryableAxisError(f"{operation}: data is {type(rows).__name__}, not a list", error_code="bad-response")
    return [row for row in rows if isinstance(row, dict)]


class AxisClient:
    """One system's connection to the axis (``system_id`` + ``secret`` as registered with the operator)."""

    def __init__(
        self,
        base_url: str,
        system_id: str,
        secret: str,
        *,
        transport: Transport | None = None,
        timeout: float = 30.0,
        max_packet_bytes: int = DEFAULT_MAX_PACKET_BYTES,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"axis base URL must be http(s): {base_url!r}")
        if not system_id or not secret:
            raise ValueError("system_id and secret are required")
        self.base_url = base_url.rstrip("/")
        self.system_id = system_id
        self._secret = secret
        #: A fetched packet larger than this is refused (AxisResponseTooLarge), and reading stops soon after
        #: it: the transport takes answers up to the base64 form of such a packet inside JSON (getEdoc).
        self.max_packet_bytes = max_packet_bytes
        self._transport: Transport = transport or AiohttpTransport(
            timeout=timeout, max_response_bytes=max_packet_bytes * 4 // 3 + 1024 * 1024)

    async def __aenter__(self) -> AxisClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    # ------------------------------------------------------------------------------------ plumbing

    async def _call(
        self,
        operation: str,
        fields: Mapping[str, str],
        *,
        body: Body | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        return self._result(operation, await self._send(operation, fields, body=body, content_type=content_type))

    async def _send(
        self,
        operation: str,
        fields: Mapping[str, str],
        *,
        body: Body | None = None,
        content_type: str = "application/json",
    ) -> TransportResponse:
        signed = hmac_auth.base_fields(self.system_id, content_type)
        signed.update(fields)
        headers = hmac_auth.sign(signed, self._secret)
        headers["Content-Type"] = content_type
        headers["Accept"] = "application/json"
        headers["User-Agent"] = hmac_auth.USER_AGENT
        return await self._transport.send(
            "POST", f"{self.base_url}/{operation}", headers, body if body is not None else b"{}"
        )

    @staticmethod
    def _result(operation: str, response: TransportResponse) -> dict[str, Any]:
        try:
            data = jsontext.loads(response.body) if response.body else {}
        except jsontext.JsonTextError:
            data = None
        if not isinstance(data, dict):
            data = None
        code = _str(data, "ErrorCode") if data else ""
        desc = _str(data, "ErrorDesc") if data else response.body[:200].decode("utf-8", "replace")
        if response.status >= 500 or response.status in _RETRYABLE_4XX:
            raise RetryableAxisError(f"{operation}: {desc}", status=response.status, error_code=code)
        if response.status >= 400:
            raise PermanentAxisError(f"{operation}: {desc}", status=response.status, error_code=code)
        if data is None:
            raise RetryableAxisError(
                f"{operation}: response is not a JSON object",
                status=response.status,
                error_code="bad-response",
            )
        status = _str(data, "status").upper()
        if (status and status not in ("OK", "SUCCESS", "TRUE")) or code not in ("", "0", "00"):
            raise PermanentAxisError(f"{operation}: {desc or status}", status=response.status, error_code=code)
        return data

    # ------------------------------------------------------------------------------------ documents

    async def send_edoc(
        self,
        packet: bytes,
        *,
        sender: str | None = None,
        message_type: MessageType | None = None,
        to: list[str] | None = None,
        sha256: str | None = None,
    ) -> str:
        """Send an edoc or status packet; returns the axis' DocId.

        ``sha256`` is the packet's hex SHA-256 (the ``hash-file`` field) when the caller already has it.

        ``sender`` and ``message_type`` default to what the packet says (its ``From/OrganId`` and whether
        it is a status packet), so the packet is parsed first: a packet our own reader rejects raises
        :class:`PermanentAxisError` without a network call.
        """
        if sender is None or message_type is None:
            try:
                parsed = read_packet(packet, schema_check=False).packet
            except EdxmlError as exc:
                raise PermanentAxisError(str(exc), error_code=f"edxml-{exc.code}") from exc
            kind: MessageType = "status" if isinstance(parsed, StatusPacket) else "edoc"
            origin = parsed.from_.organ_id if isinstance(parsed, StatusPacket) else parsed.header.from_.organ_id
            sender = sender or origin
            message_type = message_type or kind
        boundary = f"lgsp-{uuid.uuid4().hex}"
        body = (  # three parts, sent one after another: the packet is not copied into a bigger buffer
            (
                f"--{boundary}\r\n"
                'Content-Disposition: form-data; name="file_doc"; filename="document.edxml"\r\n'
                "Content-Type: application/xml\r\n\r\n"
            ).encode(),
            packet,
            f"\r\n--{boundary}--\r\n".encode(),
        )
        fields = {
            "from": sender,
            "servicetype": "eDoc",
            "messagetype": message_type,
            "hash-file": sha256 or hash_file(packet),
        }
        if to:
            fields["to"] = json.dumps(to, separators=(",", ":"))
        data = await self._call("sendEdoc", fields, body=body, content_type=f"multipart/form-data; boundary={boundary}")
        doc_id = _str(data, "DocId")
        if not doc_id:
            raise RetryableAxisError("sendEdoc: response has no DocId", error_code="bad-response")
        return doc_id

    async def list_received(
        self,
        message_type: MessageType | None = None,
        *,
        to: str | None = None,
        status: str | None = None,
        page_size: int | None = None,
        page_index: int | None = None,
    ) -> list[ReceivedEdoc]:
        """Messages waiting for this system's agencies (all types when ``message_type`` is None)."""
        fields = {"servicetype": "eDoc"}
        optional = {
            "messagetype": message_type,
            "to": to,
            "status": status,
            "pageSize": None if page_size is None else str(page_size),
            "pageIndex": None if page_index is None else str(page_index),
        }
        fields.update({k: v for k, v in optional.items() if v is not None})
        data = await self._call("getReceivedEdocList", fields)
        return [
            ReceivedEdoc(
                doc_id=_str(item, "docId"),
                message_type=_str(item, "messageType"),
                from_=_str(item, "from"),
                to=_str(item, "to"),
                status=_str(item, "status"),
                status_desc=_str(item, "status_desc"),
                service_type=_str(item, "serviceType"),
                created_time=_str(item, "created_time"),
                updated_time=_str(item, "updated_time"),
            )
            for item in _rows("getReceivedEdocList", data)
        ]

    async def get_edoc(self, doc_id: str) -> bytes:
        """The packet bytes of a received message (the axis sends them base64-encoded)."""
        data = await self._call("getEdoc", {"docId": doc_id, "filePath": ""})
        try:
            packet = base64.b64decode(_str(data, "data"), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise RetryableAxisError(f"getEdoc {doc_id}: data is not base64", error_code="bad-response") from exc
        return self._within_limit("getEdoc", doc_id, packet)

    def _within_limit(self, operation: str, doc_id: str, packet: bytes) -> bytes:
        if len(packet) > self.max_packet_bytes:
            raise AxisResponseTooLarge(f"{operation} {doc_id}: the packet has {len(packet)} bytes, over "
                                       f"{self.max_packet_bytes}", limit=self.max_packet_bytes)
        return packet

    async def download_edoc(self, doc_id: str) -> bytes:
        """The packet bytes of a received message as a file (``downloadEdoc``): no base64 in JSON, so a
        67 MB packet arrives as 67 MB, not as a 90 MB JSON string decoded into a third copy."""
        response = await self._send("downloadEdoc", {"docId": doc_id, "filePath": ""})
        content_type = response.headers.get("Content-Type", response.headers.get("content-type", ""))
        if response.status >= 400 or "json" in content_type.lower():
            self._result("downloadEdoc", response)  # raises for an error answer
            raise RetryableAxisError(f"downloadEdoc {doc_id}: JSON instead of the file", error_code="bad-response")
        return self._within_limit("downloadEdoc", doc_id, response.body)

    async def update_status(self, doc_id: str, status: QueueStatus) -> None:
        """Transport status of a received message: ``processing``, ``done`` (stored) or ``fail``."""
        if status not in QUEUE_STATUSES:
            raise ValueError(f"status must be one of {sorted(QUEUE_STATUSES)}, not {status!r}")
        await self._call("updateStatus", {"docId": doc_id, "status": status})

    async def list_sent(self, message_type: MessageType = "edoc", doc_id: str | None = None) -> list[dict[str, Any]]:
        """``getSentEdocList`` rows as the axis returns them (delivery state per recipient)."""
        fields = {"servicetype": "eDoc", "messagetype": message_type}
        if doc_id:
            fields["docId"] = doc_id
        data = await self._call("getSentEdocList", fields)
        return [dict(row) for row in _rows("getSentEdocList", data)]

    async def count_received(self, message_type: MessageType = "edoc") -> int:
        operation = "countReceiveStatus" if message_type == "status" else "countReceiveEdoc"
        data = await self._call(operation, {"servicetype": "eDoc", "messagetype": message_type})
        try:
            return int(data.get("count", 0))
        except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: 1e400 is an infinite float
            raise RetryableAxisError(f"{operation}: count is not a number", error_code="bad-response") from exc

    # ------------------------------------------------------------------------------------ directory

    async def list_agencies(self) -> list[Agency]:
        data = await self._call("getAgenciesList", {})
        return [
            Agency(
                code=_str(item, "code"),
                name=_str(item, "name"),
                id=_str(item, "id"),
                pid=_str(item, "pid"),
                mail=_str(item, "mail"),
                old_code=_str(item, "oldCode"),
                code102=_str(item, "code102"),
            )
            for item in _rows("getAgenciesList", data)
        ]

    async def register_agency(
        self,
        code: str,
        name: str,
        *,
        pcode: str = "",
        mail: str = "",
        mobile: str = "",
        fax: str = "",
        id: str = "",
    ) -> None:
        body = json.dumps(
            {
                "id": id,
                "pcode": pcode,
                "code": code,
                "name": name,
                "mail": mail,
                "mobile": mobile,
                "fax": fax,
            },
            ensure_ascii=False,
        ).encode("utf-8")
        await self._call("registerAgency", {}, body=body)

    async def delete_agency(self, code: str) -> None:
        await self._call("deleteAgency", {"AgencyCode": code})


__all__ = [
    "Agency",
    "AxisClient",
    "AxisError",
    "PermanentAxisError",
    "ReceivedEdoc",
    "RetryableAxisError",
]
