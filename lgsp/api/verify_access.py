"""Who may call ``POST /signatures/verify``, and with how large a document.

Verifying is expensive (a 50 MB XML document costs parsing, canonicalising and hashing), so the
endpoint is not an anonymous service by default: a caller needs a token with the ``gateway`` scope and
then gets the policy's document limit. An operator who wants citizens or partners without credentials
to check a signature sets ``LGSP_SIGNATURES_ANONYMOUS_MAX_BYTES`` to a small limit; tokenless callers
are then served up to that size and no further.
"""

from __future__ import annotations

from fastapi import Request

from lgsp.api.deps import authorization_of
from lgsp.auth.tokens import require_scope
from lgsp.runtime import Runtime
from signing.http import AccessCheck

SCOPE = "gateway"


def verify_access(runtime: Runtime) -> AccessCheck:
    anonymous = max(0, runtime.settings.signatures_anonymous_max_bytes)
    token_limit = runtime.settings.max_body_bytes if runtime.verifier is None else \
        runtime.verifier.policy.max_document_bytes

    def check(request: Request) -> int:
        header = authorization_of(request)
        if not header and anonymous:
            return anonymous
        identity = runtime.authenticate(header)  # 401 without a valid token, disabled client, revoked token
        require_scope(identity, SCOPE)
        return token_limit

    return check
