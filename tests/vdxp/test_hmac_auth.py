"""HMAC header signing and verification (PROTOCOLS.md §2.2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters.vdxp import hmac_auth
from adapters.vdxp.hmac_auth import HmacAuthError, base_fields, sign, verify

SECRET = "test-secret-generated-in-test"
NOW = datetime(2026, 11, 26, 3, 4, 5, 678000, tzinfo=UTC)


class CaseInsensitive(dict[str, str]):
    def get(self, key: str, default=None):
        for k, v in self.items():
            if k.lower() == key.lower():
                return v
        return default


def _signed(**extra: str) -> dict[str, str]:
    fields = base_fields("sys-1", "application/json", NOW)
    fields.update(extra)
    return sign(fields, SECRET)


def test_timestamp_format_matches_the_sdk() -> None:
    assert hmac_auth.format_timestamp(NOW) == "26112026T100405+0678"  # Vietnamese time, ms in 4 digits
    assert hmac_auth.parse_timestamp("26112026T100405+0678") == NOW


def test_signed_headers_shape() -> None:
    headers = _signed(docId="42")
    assert headers["XroadVnpt-sign-header-key"] == "timestamp;systemid;Content-Type;docId"
    signed = json.loads(headers["XroadVnpt-sign-header"])
    assert signed == {
        "XroadVnpt-timestamp": "26112026T100405+0678",
        "XroadVnpt-systemid": "sys-1",
        "XroadVnpt-Content-Type": "application/json",
        "XroadVnpt-docId": "42",
    }
    assert headers["XroadVnpt-docId"] == "42"
    assert headers["XroadVnpt-hash-header"] == hmac_auth.compute_hmac(SECRET, headers["XroadVnpt-sign-header"])


def test_verify_accepts_and_returns_signed_fields_case_insensitively() -> None:
    headers = CaseInsensitive({k.lower(): v for k, v in _signed(docId="42").items()})
    verified = verify(headers, {"sys-1": SECRET}, now=NOW, max_skew=timedelta(minutes=5), required=("docId",))
    assert verified.system_id == "sys-1" and verified.fields["docId"] == "42"


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda h: h.update({"XroadVnpt-hash-header": "0" * 64}), "AUTH_INVALID_SIGNATURE"),
        (lambda h: h.update({"XroadVnpt-docId": "43"}), "AUTH_HEADER_MISMATCH"),
        (lambda h: h.pop("XroadVnpt-hash-header"), "AUTH_MISSING"),
        (lambda h: h.update({"XroadVnpt-sign-header": "{not json"}), "AUTH_BAD_SIGN_HEADER"),
        (lambda h: h.update({"XroadVnpt-sign-header-key": "timestamp;systemid;status"}), "AUTH_BAD_SIGN_HEADER"),
    ],
)
def test_verify_rejects_tampering(tamper, code: str) -> None:
    headers = CaseInsensitive(_signed(docId="42"))
    tamper(headers)
    with pytest.raises(HmacAuthError) as info:
        verify(headers, {"sys-1": SECRET}, now=NOW, max_skew=timedelta(minutes=5))
    assert info.value.code == code


def test_verify_rejects_other_secret_unknown_system_unsigned_field_and_stale_time() -> None:
    headers = CaseInsensitive(_signed())
    with pytest.raises(HmacAuthError, match="AUTH_INVALID_SIGNATURE"):
        verify(headers, {"sys-1": "another"}, now=NOW, max_skew=None)
    with pytest.raises(HmacAuthError, match="AUTH_UNKNOWN_SYSTEM"):
        verify(headers, {"sys-2": SECRET}, now=NOW, max_skew=None)
    with pytest.raises(HmacAuthError, match="AUTH_UNSIGNED_FIELD"):
        verify(headers, {"sys-1": SECRET}, now=NOW, max_skew=None, required=("docId",))
    with pytest.raises(HmacAuthError, match="AUTH_STALE_TIMESTAMP"):
        verify(headers, {"sys-1": SECRET}, now=NOW + timedelta(minutes=6), max_skew=timedelta(minutes=5))
    assert verify(headers, {"sys-1": SECRET}, now=NOW + timedelta(days=9), max_skew=None).system_id == "sys-1"


def test_sign_refuses_non_latin1_values() -> None:
    with pytest.raises(UnicodeEncodeError):
        sign({"from": "Cần Thơ"}, SECRET)
