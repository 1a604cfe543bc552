"""Password hashing with scrypt (RFC 7914) from the standard library: memory-hard, no extra dependency.

Format: ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>`` so parameters can be raised later and old hashes
still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_LOG_N, _R, _P = 15, 8, 1  # ~32 MiB, ~50 ms on this class of machine


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=1 << _LOG_N, r=_R, p=_P, maxmem=64 << 20, dklen=32)
    return "$".join(["scrypt", str(_LOG_N), str(_R), str(_P), base64.b64encode(salt).decode(),
                     base64.b64encode(digest).decode()])


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, log_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=1 << int(log_n), r=int(r),
                                p=int(p), maxmem=64 << 20, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


#: Checked against when the username is unknown, so timing does not tell which usernames exist.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
