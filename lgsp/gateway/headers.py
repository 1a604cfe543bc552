"""Header rules for forwarding: what never crosses the gateway, and what the gateway adds."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable

HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer",
    b"trailers", b"transfer-encoding", b"upgrade",
})
# Never forwarded to the provider: hop-by-hop headers, the caller's credentials for lgsp itself,
# headers the client library sets for the new connection, and identity headers only lgsp may set.
REQUEST_DROP = HOP_BY_HOP | {
    b"authorization", b"host", b"content-length", b"x-lgsp-client", b"x-lgsp-message-id",
    b"x-correlation-id", b"x-lgsp-user-id",
}
# The provider's Date and Server are replaced by the gateway's own (the server stack adds them).
RESPONSE_DROP = HOP_BY_HOP | {b"content-length", b"x-lgsp-message-id", b"x-lgsp-audit-index", b"date", b"server"}


def connection_listed(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names a `Connection` header declares hop-by-hop (RFC 9110 §7.6.1)."""
    listed: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            listed.update(token.strip().lower() for token in value.split(b","))
    return listed


def valid_message_id(value: str | None) -> str:
    """Keep a caller-supplied UUID message id (so retries dedupe downstream), else make a new one."""
    if value:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    # A version-4 UUID from the process's PRNG: message ids must be unique, not secret, and this avoids a
    # getrandom() system call per request.
    return str(uuid.UUID(int=random.getrandbits(128) & _V4_MASK | _V4_BITS))


_V4_MASK = ~(0xF000 << 64 | 0xC000 << 48) & (2**128 - 1)
_V4_BITS = 0x4000 << 64 | 0x8000 << 48
