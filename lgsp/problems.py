"""RFC 9457 problem details: every error lgsp returns has a stable `type` per kind of failure.

Clients and monitoring key on `type` (a URI under `https://lgsp.dev/problems/`), never on the English
`detail`. A stage of the pipeline raises :class:`Problem` to stop an exchange; the edge renders it.
"""

from __future__ import annotations

import json
from typing import Any

PROBLEM_BASE = "https://lgsp.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

#: kind -> (HTTP status, title). The kind is the last segment of the problem `type` URI.
KINDS: dict[str, tuple[int, str]] = {
    "bad-request": (400, "Bad request"),
    "invalid-path": (400, "Ambiguous or invalid request path"),
    "unauthenticated": (401, "Authentication required"),
    "invalid-token": (401, "Invalid or expired access token"),
    "forbidden": (403, "Access not granted"),
    "client-certificate-required": (401, "Client certificate required"),
    "client-certificate-mismatch": (403, "Client certificate does not match the system's registration"),
    "unknown-service": (404, "Unknown service"),
    "unknown-agency": (404, "Unknown agency"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "conflict": (409, "Conflict"),
    "request-timeout": (408, "Request not received in time"),
    "headers-too-large": (431, "Request head too large"),
    "payload-too-large": (413, "Request body too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "validation-failed": (422, "Validation failed"),
    "mediation-input-invalid": (422, "Request does not match the operation's input schema"),
    "unknown-operation": (404, "Unknown operation"),
    "soap-fault": (502, "Provider answered with a SOAP Fault"),
    "signature-invalid": (422, "Signature verification did not pass"),
    "upstream-unavailable": (502, "Provider unavailable"),
    "upstream-bad-response": (502, "Provider sent an invalid response"),
    "circuit-open": (503, "Provider temporarily cut off"),
    "upstream-timeout": (504, "Provider timed out"),
    "rate-limited": (429, "Too many requests"),
    "quota-exceeded": (429, "Quota used up"),
    "concurrency-limited": (503, "Too many calls in flight to this provider"),
    "limits-unavailable": (503, "Traffic limits cannot be checked"),
    "internal-error": (500, "Internal error"),
    "audit-unavailable": (503, "Audit log unavailable"),
    "store-unavailable": (503, "Store busy: try again later"),
    "not-configured": (503, "Not configured on this gateway"),
    # document exchange (edXML / national axis)
    "edxml-invalid": (422, "Invalid edXML packet"),
    "sender-mismatch": (403, "The packet's sender is not the caller's agency"),
    "unknown-recipient": (422, "Recipient not in the agency directory"),
    # keys (lgsp/keys): the HSM or the key-encryption key cannot be used
    "keys-unavailable": (503, "Signing keys unavailable"),
}


class Problem(Exception):
    """An error with an RFC 9457 rendering; raise it anywhere in request handling."""

    def __init__(
        self,
        kind: str,
        detail: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown problem kind {kind!r}")
        super().__init__(detail)
        default_status, self.title = KINDS[kind]
        self.kind = kind
        self.status = status or default_status
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.kind

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body

    def body(self, instance: str | None = None) -> bytes:
        return json.dumps(self.to_dict(instance), ensure_ascii=False).encode()
