"""Header rules for forwarding: what never crosses the gateway, and what the gateway adds."""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterable

HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer",
    b"trailers", b"transfer-encoding", b"upgrade",
})
# Never forwarded to the provider: hop-by-hop headers, the caller's credentials for lgsp itself (its
# token, and the cookies of the gateway's origin: a browser sends the console's session cookie with any
# request there), headers the client library sets for the new connection, and identity headers only lgsp
# may set.
REQUEST_DROP = HOP_BY_HOP | {
    b"authorization", b"cookie", b"host", b"content-length", b"x-lgsp-client", b"x-lgsp-message-id",
    b"x-correlation-id", b"x-lgsp-user-id",
}
# The provider's Date and Server are replaced by the gateway's own (the server stack adds them). Its
# cookies would be set for the gateway's origin, shared by every provider and the console (a provider
# could plant a console session cookie): they are dropped.
RESPONSE_DROP = HOP_BY_HOP | {b"content-length", b"x-lgsp-message-id", b"x-lgsp-audit-index", b"date", b"server",
                              b"set-cookie"}


def connection_listed(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names a `Connection` header declares hop-by-hop (RFC 9110 §7.6.1)."""
    listed: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            listed.update(token.strip().lower() for token in value.split(b","))
    return listed


def valid_message_id(value: str | None) -> str:
    """Keep a caller-supplied UUID message id (so retries dedupe downstream), else make a new one.

    Either way the id is in canonical form (lower-case hex, 8-4-4-4-12). An id already in that form is
    kept as it is, without a round trip through `uuid.UUID` (~5 µs a call on the hot path).
    """
    if value:
        if _CANONICAL.fullmatch(value):
            return value
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    # A version-4 UUID from the process's PRNG: message ids must be unique, not secret, and this avoids a
    # getrandom() system call per request. Formatted directly (what str(uuid.UUID(int=...)) gives).
    digits = f"{random.getrandbits(128) & _V4_MASK | _V4_BITS:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_V4_MASK = ~(0xF000 << 64 | 0xC000 << 48) & (2**128 - 1)
_V4_BITS = 0x4000 << 64 | 0x8000 << 48
