"""Single sign-on with OpenID Connect: authorization code flow with PKCE (RFC 7636, S256) and a nonce.

authlib builds the authorization URL and exchanges the code (client_secret_basic); joserfc checks the ID
token's signature against the provider's JWKS and its iss, aud, exp, iat and nonce. The provider's metadata
and keys are fetched from its discovery document. The person's role comes from a configurable claim
(`LGSP_OIDC_ROLES_CLAIM`, a string or a list); someone with no console role is refused, not let in as observer.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from lgsp.console.models import ConsoleOidcPending
from lgsp.console.roles import ROLES
from lgsp.settings import Settings
from lgsp.store.db import writer

PENDING_FOR = timedelta(minutes=10)


class SignInError(Exception):
    pass


@dataclass(frozen=True)
class Identity:
    issuer: str
    subject: str
    name: str
    role: str


class OidcClient:
    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret
        self.roles_claim = settings.oidc_roles_claim
        self._metadata: dict[str, Any] | None = None
        self._keys: tuple[float, KeySet] | None = None

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                response.raise_for_status()
                data = response.json()
            if data.get("issuer", "").rstrip("/") != self.issuer:
                raise SignInError("the identity provider's discovery document names a different issuer")
            self._metadata = data
        return self._metadata

    async def key_set(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh or time.monotonic() - self._keys[0] > 3600:
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.get((await self.metadata())["jwks_uri"])
                response.raise_for_status()
                self._keys = (time.monotonic(), KeySet.import_key_set(response.json()))
        return self._keys[1]

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(self.client_id, self.client_secret, scope="openid profile",
                                 redirect_uri=redirect_uri, code_challenge_method="S256",
                                 token_endpoint_auth_method="client_secret_basic", timeout=10)

    async def start(self, engine: Engine, redirect_uri: str) -> tuple[str, str]:
        """The URL to send the browser to, and its state (which the caller binds to the browser); the state,
        verifier and nonce wait in the store."""
        metadata = await self.metadata()
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        async with self._client(redirect_uri) as client:
            url, state = client.create_authorization_url(metadata["authorization_endpoint"], code_verifier=verifier,
                                                         nonce=nonce)
        with Session(writer(engine)) as session, session.begin():
            cutoff = datetime.now(UTC) - PENDING_FOR
            session.execute(delete(ConsoleOidcPending).where(ConsoleOidcPending.created_at < cutoff))
            session.add(ConsoleOidcPending(state=state, code_verifier=verifier, nonce=nonce))
        return str(url), str(state)

    async def finish(self, engine: Engine, redirect_uri: str, state: str, code: str) -> Identity:
        with Session(writer(engine)) as session, session.begin():
            pending = session.get(ConsoleOidcPending, state) if state else None
            if pending is None:
                raise SignInError("this sign-in was not started here, or it expired: start again")
            verifier, nonce = pending.code_verifier, pending.nonce
            created = pending.created_at if pending.created_at.tzinfo else pending.created_at.replace(tzinfo=UTC)
            session.delete(pending)  # one use only
        if datetime.now(UTC) - created > PENDING_FOR:
            raise SignInError("the sign-in took too long: start again")
        metadata = await self.metadata()
        async with self._client(redirect_uri) as client:
            try:
                token = await client.fetch_token(metadata["token_endpoint"], code=code, code_verifier=verifier)
            except Exception as exc:
                raise SignInError(f"the identity provider refused the code: {exc}") from exc
        id_token = token.get("id_token")
        if not id_token:
            raise SignInError("the identity provider sent no ID token")
        return self._identity(await self._decode(id_token), nonce)

    async def _decode(self, id_token: str) -> dict[str, Any]:
        for refresh in (False, True):  # a new kid: the provider rotated its keys
            try:
                decoded = jwt.decode(id_token, await self.key_set(refresh), algorithms=["RS256", "ES256", "EdDSA"])
                return dict(decoded.claims)
            except (JoseError, ValueError) as exc:
                if refresh:
                    raise SignInError(f"the ID token does not verify: {exc}") from exc
        raise SignInError("unreachable")

    def _identity(self, claims: dict[str, Any], nonce: str) -> Identity:
        now = time.time()
        if str(claims.get("iss", "")).rstrip("/") != self.issuer:
            raise SignInError("the ID token was issued by someone else")
        audience = claims.get("aud")
        if self.client_id not in (audience if isinstance(audience, list) else [audience]):
            raise SignInError("the ID token is meant for another client")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] < now - 30:
            raise SignInError("the ID token has expired")
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInError("the ID token's nonce does not match this sign-in")
        raw = claims.get(self.roles_claim)
        offered = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) else []
        roles = [r for r in ROLES if r in offered]  # the most powerful one offered, in ROLES order
        if not roles:
            raise SignInError(f"your account has no console role (claim {self.roles_claim!r} names none of "
                              f"{', '.join(ROLES)})")
        subject = str(claims.get("preferred_username") or claims.get("sub") or "")
        if not subject:
            raise SignInError("the ID token names no subject")
        return Identity(self.issuer, subject, str(claims.get("name") or subject), roles[0])
