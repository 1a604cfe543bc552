"""HMAC header signing of the VNPT VXP REST protocol (PROTOCOLS.md §2.2), for both sides.

Every signed key ``k`` travels twice: as its own HTTP header ``XroadVnpt-k`` and inside the JSON object
``XroadVnpt-sign-header``; ``XroadVnpt-sign-header-key`` lists the keys and ``XroadVnpt-hash-header`` is
the hex HMAC-SHA256 of that JSON string under the system's secret. The verifier recomputes the HMAC over
the JSON string *as received* (so serialisation details such as key order or Gson's escaping never
matter), then checks each listed header against the JSON, and finally the timestamp's freshness.

One deliberate difference from the Java SDK: we stamp ``timestamp`` per request (the SDK stamps it once
when the service object is created), so a freshness window is meaningful.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from lgsp import jsontext

PREFIX = "XroadVnpt-"
SIGN_HEADER = f"{PREFIX}sign-header"
SIGN_HEADER_KEY = f"{PREFIX}sign-header-key"
HASH_HEADER = f"{PREFIX}hash-header"
USER_AGENT = "lgsp-vdxp/0.1 XRoad/VPCP"
#: Vietnam has had no daylight saving since 1975, so a fixed offset is exact and needs no tz database.
VIETNAM = timezone(timedelta(hours=7), "ICT")


class HmacAuthError(Exception):
    """Signature verification failed; ``code`` is the stable reason (simulator ErrorCode)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


def format_timestamp(moment: datetime) -> str:
    """The SDK's ``ddMMyyyy'T'HHmmss+SSSS`` (``SSSS`` = milliseconds, 4 digits) in Vietnamese time."""
    local = moment.astimezone(VIETNAM)
    return f"{local:%d%m%Y}T{local:%H%M%S}+{local.microsecond // 1000:04d}"


def parse_timestamp(text: str) -> datetime:
    """Inverse of :func:`format_timestamp` (aware, Vietnamese time)."""
    try:
        main, millis = text.split("+", 1)
        moment = datetime.strptime(main, "%d%m%YT%H%M%S").replace(tzinfo=VIETNAM)
        return moment + timedelta(milliseconds=int(millis))
    except ValueError as exc:
        raise HmacAuthError("AUTH_BAD_TIMESTAMP", f"timestamp {text!r} is not ddMMyyyyTHHmmss+SSSS") from exc


def compute_hmac(secret: str, message: str) -> str:
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(fields: Mapping[str, str], secret: str) -> dict[str, str]:
    """HTTP headers carrying ``fields`` and their signature.

    ``fields`` should contain ``systemid`` and ``timestamp`` (see :func:`base_fields`) plus per-call keys.
    Header values must be Latin-1 encodable (HTTP/1.1); agency codes and ids are ASCII.
    """
    headers: dict[str, str] = {}
    signed: dict[str, str] = {}
    for key, value in fields.items():
        if not key or ";" in key:
            raise ValueError(f"invalid signed header key {key!r}")
        value.encode("latin-1")  # fail early instead of at the HTTP layer
        headers[PREFIX + key] = value
        signed[PREFIX + key] = value
    sign_header = json.dumps(signed, separators=(",", ":"), ensure_ascii=True)
    headers[SIGN_HEADER_KEY] = ";".join(fields)
    headers[SIGN_HEADER] = sign_header
    headers[HASH_HEADER] = compute_hmac(secret, sign_header)
    return headers


def base_fields(system_id: str, content_type: str, now: datetime | None = None) -> dict[str, str]:
    """The fields every request signs: timestamp, systemid and Content-Type (SDK order)."""
    return {
        "timestamp": format_timestamp(now or datetime.now(UTC)),
        "systemid": system_id,
        "Content-Type": content_type,
    }


@dataclass(frozen=True)
class VerifiedRequest:
    """The caller's system id and every signed field (the only values a server should trust)."""

    system_id: str
    fields: dict[str, str]
    timestamp: datetime


def verify(
    headers: Mapping[str, str],
    secret_for: Mapping[str, str],
    *,
    now: datetime,
    max_skew: timedelta | None,
    required: tuple[str, ...] = (),
) -> VerifiedRequest:
    """Check the signature of a request's headers (case-insensitive mapping) or raise HmacAuthError."""
    sign_header = headers.get(SIGN_HEADER)
    key_list = headers.get(SIGN_HEADER_KEY)
    given_hash = headers.get(HASH_HEADER)
    if not sign_header or key_list is None or not given_hash:
        needed = f"{SIGN_HEADER}, {SIGN_HEADER_KEY} and {HASH_HEADER}"
        raise HmacAuthError("AUTH_MISSING", f"{needed} are required")
    try:
        signed = jsontext.loads(sign_header)
    except jsontext.JsonTextError as exc:
        raise HmacAuthError("AUTH_BAD_SIGN_HEADER", f"{SIGN_HEADER} is not JSON") from exc
    if not isinstance(signed, dict) or not all(isinstance(v, str) for v in signed.values()):
        raise HmacAuthError("AUTH_BAD_SIGN_HEADER", f"{SIGN_HEADER} must be a JSON object of strings")
    keys = [k for k in key_list.split(";") if k]
    fields: dict[str, str] = {}
    for key in keys:
        if PREFIX + key not in signed:
            raise HmacAuthError("AUTH_BAD_SIGN_HEADER", f"signed key {key!r} is missing from {SIGN_HEADER}")
        if headers.get(PREFIX + key) != signed[PREFIX + key]:
            raise HmacAuthError("AUTH_HEADER_MISMATCH", f"header {PREFIX}{key} differs from its signed value")
        fields[key] = signed[PREFIX + key]
    system_id = fields.get("systemid", "")
    secret = secret_for.get(system_id)
    if secret is None:
        raise HmacAuthError("AUTH_UNKNOWN_SYSTEM", f"system {system_id!r} is not registered")
    if not hmac.compare_digest(compute_hmac(secret, sign_header), given_hash.lower()):
        raise HmacAuthError("AUTH_INVALID_SIGNATURE", "HMAC-SHA256 of the sign header does not match")
    missing = [key for key in ("timestamp", *required) if key not in fields]
    if missing:
        raise HmacAuthError("AUTH_UNSIGNED_FIELD", f"these fields must be signed: {', '.join(missing)}")
    stamp = parse_timestamp(fields["timestamp"])
    if max_skew is not None and abs(now - stamp) > max_skew:
        off = abs(now - stamp).total_seconds()
        raise HmacAuthError(
            "AUTH_STALE_TIMESTAMP",
            f"timestamp {fields['timestamp']} is {off:.0f} s away from the server clock "
            f"(allowed {max_skew.total_seconds():.0f} s)",
        )
    return VerifiedRequest(system_id, fields, stamp)
