"""A deliberately small, independent client of the VXP REST protocol (PROTOCOLS.md §2.1–§2.2)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any

import httpx

VIETNAM = timezone(timedelta(hours=7))


def vxp_timestamp(moment: datetime | None = None) -> str:
    """``ddMMyyyy'T'HHmmss+SSSS`` in Vietnamese time."""
    local = (moment or datetime.now(VIETNAM)).astimezone(VIETNAM)
    return local.strftime("%d%m%YT%H%M%S") + f"+{local.microsecond // 1000:04d}"


class AxisHttp:
    def __init__(self, url: str, system_id: str, secret: str) -> None:
        self.url = url
        self.system_id = system_id
        self.secret = secret
        self.http = httpx.Client(timeout=30)

    def __enter__(self) -> AxisHttp:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.http.close()

    def headers(
        self,
        fields: dict[str, str],
        content_type: str = "application/json",
        *,
        secret: str | None = None,
        timestamp: str | None = None,
    ) -> dict[str, str]:
        signed = {
            "timestamp": timestamp or vxp_timestamp(),
            "systemid": self.system_id,
            "Content-Type": content_type,
            **fields,
        }
        sign_header = json.dumps({f"XroadVnpt-{k}": v for k, v in signed.items()}, separators=(",", ":"))
        digest = hmac.new((secret or self.secret).encode(), sign_header.encode(), hashlib.sha256).hexdigest()
        headers = {f"XroadVnpt-{k}": v for k, v in signed.items()}
        headers.update(
            {
                "XroadVnpt-sign-header-key": ";".join(signed),
                "XroadVnpt-sign-header": sign_header,
                "XroadVnpt-hash-header": digest,
                "Content-Type": content_type,
            }
        )
        return headers

    def call(
        self,
        operation: str,
        fields: dict[str, str] | None = None,
        body: bytes = b"{}",
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = headers if headers is not None else self.headers(fields or {}, content_type)
        return self.http.post(f"{self.url}/{operation}", headers=sent, content=body)

    def send(self, packet: bytes, sender: str, message_type: str, *, hash_file: str | None = None) -> httpx.Response:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file_doc"; filename="p.edxml"\r\n'
                "Content-Type: application/xml\r\n\r\n"
            ).encode()
            + packet
            + f"\r\n--{boundary}--\r\n".encode()
        )
        fields = {
            "from": sender,
            "servicetype": "eDoc",
            "messagetype": message_type,
            "hash-file": hash_file or hashlib.sha256(packet).hexdigest(),
        }
        return self.call("sendEdoc", fields, body, content_type=f"multipart/form-data; boundary={boundary}")


def ok(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a successful answer (HTTP 2xx, status OK, ErrorCode 0); fails the test otherwise."""
    assert response.status_code < 300, f"HTTP {response.status_code}: {response.text[:300]}"
    data = response.json()
    assert isinstance(data, dict), "the answer must be a JSON object"
    assert str(data.get("status", "OK")).upper() == "OK", data
    assert str(data.get("ErrorCode", "0")) in ("0", "00", ""), data
    return data


def rejected(response: httpx.Response) -> bool:
    """A refusal: HTTP 4xx, or a 2xx whose JSON says FAIL / a non-zero ErrorCode."""
    if 400 <= response.status_code < 500:
        return True
    if response.status_code >= 500:
        return False
    try:
        data = response.json()
    except ValueError:
        return False
    return str(data.get("status", "")).upper() != "OK" or str(data.get("ErrorCode", "0")) not in ("0", "00", "")


@dataclass(frozen=True)
class AxisTarget:
    """The axis under test and the credentials/agencies the suite may use."""

    url: str
    system_id: str
    secret: str
    sender: str
    recipient: str
    recv_system_id: str
    recv_secret: str
    allow_send: bool
