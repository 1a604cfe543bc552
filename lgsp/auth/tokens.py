"""Issue and verify the gateway's access tokens (JWT, ES256, joserfc).

Verifying an ES256 signature costs ~80 µs; a client reuses its token for minutes, so verified tokens are
cached (bounded) until they expire. A forged or altered token never reaches the cache, and a cached
token is still checked against its expiry on every use.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

import structlog
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError

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

    @property
    def principal(self) -> str:
        return self.system_id or self.client_id


def _bearer_problem(kind: str, detail: str, error: str | None = None) -> Problem:
    challenge = 'Bearer realm="lgsp"'
    if error:
        challenge += f', error="{error}", error_description="{detail}"'
    return Problem(kind, detail, headers={"WWW-Authenticate": challenge})


log = structlog.get_logger("lgsp.auth")


class TokenService:
    def __init__(self, keyring: KeyRing, issuer: str, lifetime_seconds: int) -> None:
        self.keyring = keyring
        self.issuer = issuer
        self.lifetime = lifetime_seconds
        self._cache: OrderedDict[str, ClientIdentity] = OrderedDict()

    def issue(self, client_id: str, system_id: str | None, scopes: list[str]) -> tuple[str, int]:
        now = int(time.time())
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
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _bearer_problem("unauthenticated", "the Authorization header must be 'Bearer <token>'",
                                  "invalid_request")
        now = int(time.time())
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at <= now:
                self._cache.pop(token, None)
                raise _bearer_problem("invalid-token", "the access token has expired", "invalid_token")
            return cached
        identity = self._verify(token, now)
        self._cache[token] = identity
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
        except (JoseError, ValueError) as exc:
            raise _bearer_problem("invalid-token", "the access token signature is invalid",
                                  "invalid_token") from exc
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            now=now,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": AUDIENCE},
            exp={"essential": True},
            client_id={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            expired = isinstance(exc, ExpiredTokenError)
            detail = "the access token has expired" if expired else f"the access token is not valid: {exc}"
            raise _bearer_problem("invalid-token", detail, "invalid_token") from exc
        return ClientIdentity(
            client_id=str(claims["client_id"]),
            system_id=claims.get("system"),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            expires_at=int(claims["exp"]),
        )


def require_scope(identity: ClientIdentity, scope: str) -> None:
    if scope not in identity.scopes:
        raise Problem("forbidden", f"this operation needs the '{scope}' scope", required_scope=scope)
