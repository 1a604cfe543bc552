"""Issue and verify the gateway's access tokens (JWT, ES256, joserfc).

Verifying an ES256 signature costs ~80 µs; a client reuses its token for minutes, so verified tokens are
cached (bounded LRU) until they expire, keyed by the SHA-256 of the token so the cache holds no usable
bearer token. A forged or altered token never reaches the cache, and a cached token is still checked
against its expiry on every use; revocation (disabled client, the client's `tokens_not_before`) is checked
by `Runtime.authenticate` on every call, after this cache.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

import structlog
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError

from lgsp.auth.keys import KeyRing
from lgsp.keys import KeyStoreError
from lgsp.problems import Problem

AUDIENCE = "lgsp"
_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class ClientIdentity:
    """Who is calling: the OAuth client and (for department systems) the system it acts for."""

    client_id: str
    system_id: str | None
    scopes: frozenset[str]
    expires_at: int
    #: The token's `iat`: compared with the client's `tokens_not_before` on every use (revocation).
    issued_at: int = 0

    @property
    def principal(self) -> str:
        return self.system_id or self.client_id


class _Claims(jwt.JWTClaimsRegistry):
    """joserfc's claim checks, with `iat` allowed up to 2 s ahead: a token issued right after a
    revocation carries the revocation's next second as `iat` (see `TokenService.issue`)."""

    def validate_iat(self, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value > self.now + _IAT_SKEW:
            raise InvalidClaimError("iat", "Claim 'iat' must be a NumericDate not in the future")


_IAT_SKEW = 2


def _bearer_problem(kind: str, detail: str, error: str | None = None) -> Problem:
    challenge = 'Bearer realm="lgsp"'
    if error:
        challenge += f', error="{error}", error_description="{detail}"'
    return Problem(kind, detail, headers={"WWW-Authenticate": challenge})


def repeated_authorization() -> Problem:
    """400 for a request with more than one ``Authorization`` header (RFC 6750 §3.1 ``invalid_request``).

    Why refuse rather than take the first: the field is a singleton (RFC 9110 §11.6.2), and a proxy in front
    of lgsp, or a provider behind it, may read the other one. Two credentials in one request are either a
    client bug or someone testing which one each hop believes."""
    return _bearer_problem("bad-request", "the request has more than one Authorization header; send one",
                           "invalid_request")


log = structlog.get_logger("lgsp.auth")


class TokenService:
    def __init__(self, keyring: KeyRing, issuer: str, lifetime_seconds: int,
                 max_lifetime_seconds: int | None = None) -> None:
        self.keyring = keyring
        self.issuer = issuer
        self.lifetime = lifetime_seconds
        #: The longest lifetime an incoming token may claim; never below what this gateway issues.
        self.max_lifetime = max(max_lifetime_seconds or lifetime_seconds, lifetime_seconds)
        self._cache: OrderedDict[bytes, ClientIdentity] = OrderedDict()

    def issue(self, client_id: str, system_id: str | None, scopes: list[str],
              not_before: int | None = None) -> tuple[str, int]:
        """Sign a token; `iat` is never before the client's `not_before` (set a second ahead on revocation)."""
        now = max(int(time.time()), not_before or 0)
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": system_id or client_id,
            "client_id": client_id,
            "scope": " ".join(scopes),
            "iat": now,
            "exp": now + self.lifetime,
            "jti": secrets.token_hex(12),
        }
        if system_id:
            claims["system"] = system_id
        try:  # the private key stays in its store (HSM or KEK-wrapped); only the signature comes back
            token = self.keyring.sign_jwt({"alg": "ES256", "typ": "JWT"}, claims)
        except KeyStoreError as exc:
            log.error("token signing key unusable", error=str(exc))
            raise Problem("keys-unavailable", "the token signing key cannot be used right now (HSM or "
                          "key-encryption key); try again later") from None
        return token, self.lifetime

    def authenticate(self, authorization: str | None) -> ClientIdentity:
        """Turn an `Authorization` header into a caller identity, or raise a 401 problem."""
        if not authorization:
            raise _bearer_problem("unauthenticated", "an OAuth2 bearer token is required")
        scheme, _, token = authorization.strip(" \t").partition(" ")
        token = token.lstrip(" ")  # RFC 6750 §2.1: "Bearer" 1*SP b64token
        if scheme.lower() != "bearer" or not token:
            raise _bearer_problem("unauthenticated", "the Authorization header must be 'Bearer <token>'",
                                  "invalid_request")
        now = int(time.time())
        key = hashlib.sha256(token.encode("latin-1", "replace")).digest()
        cached = self._cache.get(key)
        if cached is not None:
            if cached.expires_at <= now:
                self._cache.pop(key, None)
                raise _bearer_problem("invalid-token", "the access token has expired", "invalid_token")
            self._cache.move_to_end(key)  # LRU: a token in use stays cached
            return cached
        identity = self._verify(token, now)
        self._cache[key] = identity
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return identity

    def _verify(self, token: str, now: int) -> ClientIdentity:
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError) as exc:
            raise _bearer_problem("invalid-token", "the access token is malformed", "invalid_token") from exc
        if header.get("alg") != "ES256":
            raise _bearer_problem("invalid-token", "the access token uses a disallowed algorithm",
                                  "invalid_token")
        key = self.keyring.verification_key(str(header.get("kid", "")))
        if key is None:
            raise _bearer_problem("invalid-token", "the access token was signed by an unknown key",
                                  "invalid_token")
        try:
            decoded = jwt.decode(token, key, algorithms=["ES256"])
        except RecursionError as exc:  # claims nested deeper than the JSON parser's stack (a 500 before)
            raise _bearer_problem("invalid-token", "the access token is malformed", "invalid_token") from exc
        except (JoseError, ValueError) as exc:
            raise _bearer_problem("invalid-token", "the access token signature is invalid",
                                  "invalid_token") from exc
        claims = decoded.claims
        registry = _Claims(
            now=now,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": AUDIENCE},
            exp={"essential": True},
            iat={"essential": True},
            client_id={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            expired = isinstance(exc, ExpiredTokenError)
            detail = "the access token has expired" if expired else f"the access token is not valid: {exc}"
            raise _bearer_problem("invalid-token", detail, "invalid_token") from exc
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(exp, int) or not isinstance(iat, int) or isinstance(exp, bool) or isinstance(iat, bool):
            raise _bearer_problem("invalid-token", "the access token's exp and iat must be integers", "invalid_token")
        if exp - iat > self.max_lifetime or exp - now > self.max_lifetime:
            raise _bearer_problem("invalid-token", f"the access token lives longer than the {self.max_lifetime} s "
                                                   "this gateway accepts", "invalid_token")
        client_id, system, scope = claims["client_id"], claims.get("system"), claims.get("scope", "")
        if not isinstance(client_id, str) or not isinstance(system, str | None) or not isinstance(scope, str):
            # lgsp only issues strings here; anything else (an object as `system`) failed later, as a 500
            # when the audit entry was written
            raise _bearer_problem("invalid-token", "the access token's client_id, system and scope must be "
                                                   "strings", "invalid_token")
        return ClientIdentity(
            client_id=client_id,
            system_id=system,
            scopes=frozenset(scope.split()),
            expires_at=exp,
            issued_at=iat,
        )


def require_scope(identity: ClientIdentity, scope: str) -> None:
    if scope not in identity.scopes:
        raise Problem("forbidden", f"this operation needs the '{scope}' scope", required_scope=scope)
