"""Client secrets: generated with `secrets`, stored only as a salted scrypt hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1


def generate_secret() -> str:
    return secrets.token_urlsafe(32)


def generate_client_id() -> str:
    return "c_" + secrets.token_hex(12)


#: ``oauth_clients.client_id``'s length.
MAX_CLIENT_ID = 64


def could_be_client_id(value: str) -> bool:
    """Whether ``value`` could name a stored client (ids are generated printable ASCII, see above, and fit
    their column). Anything else is never looked up: PostgreSQL refuses a NUL in a query (a 500)."""
    return 0 < len(value) <= MAX_CLIENT_ID and value.isascii() and value.isprintable()


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Constant-time check of a presented secret against its stored hash."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(digest_b64)
    actual = hashlib.scrypt(
        secret.encode(), salt=base64.b64decode(salt_b64), n=int(n), r=int(r), p=int(p), dklen=len(expected)
    )
    return hmac.compare_digest(expected, actual)
