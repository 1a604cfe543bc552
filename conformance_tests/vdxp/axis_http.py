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
from bounded_http import BoundedClient

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
        self.http = BoundedClient(timeout=30)

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


def answer_json(response: httpx.Response) -> Any:
    """The JSON of an answer, or a failed check saying the answer is not JSON (and what it starts with)."""
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        raise AssertionError(f"HTTP {response.status_code}: the answer is not JSON: {response.text[:200]!r}") from None


def ok(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a successful answer (HTTP 2xx, status OK, ErrorCode 0); fails the test otherwise."""
    assert response.status_code < 300, f"HTTP {response.status_code}: {response.text[:300]}"
    data = answer_json(response)
    assert isinstance(data, dict), f"the answer must be a JSON object, not {type(data).__name__}: {str(data)[:200]}"
    assert str(data.get("status", "OK")).upper() == "OK", str(data)[:300]
    assert str(data.get("ErrorCode", "0")) in ("0", "00", ""), str(data)[:300]
    return data


def records(data: dict[str, Any], key: str = "data") -> list[dict[str, Any]]:
    """``data[key]`` as a list of JSON objects (missing or null: empty); any other shape fails the check."""
    items = data.get(key)
    if items is None:
        return []
    assert isinstance(items, list), f"{key!r} must be a JSON list, not {type(items).__name__}: {str(items)[:200]}"
    for item in items:
        assert isinstance(item, dict), f"every item of {key!r} must be a JSON object, not {str(item)[:200]}"
    return items


def rejected(response: httpx.Response) -> bool:
    """A refusal: HTTP 4xx, or a JSON object whose ``status`` is a word other than OK or whose ``ErrorCode``
    is a non-zero code. An answer that says neither (``{}``, nulls, a list, HTML) is not a refusal: an
    axis that answers nonsense to every request must not pass the authentication checks."""
    if 400 <= response.status_code < 500:
        return True
    if response.status_code >= 500:
        return False
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(data, dict):
        return False
    status, code = data.get("status"), data.get("ErrorCode")
    if isinstance(status, str) and status.strip() and status.strip().upper() != "OK":
        return True
    return isinstance(code, (str, int)) and not isinstance(code, bool) and str(code).strip() not in ("0", "00", "")


def assert_rejected(response: httpx.Response) -> None:
    """Fail the check, quoting the answer, unless it is a refusal (:func:`rejected`)."""
    assert rejected(response), f"not refused: HTTP {response.status_code}: {response.text[:200]!r}"


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
