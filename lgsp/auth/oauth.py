"""The OAuth2 token endpoint (client-credentials grant only), built on authlib's authorization server.

authlib does the protocol work (client authentication by HTTP Basic or form post, grant and scope
checks, RFC 6749 error responses); lgsp supplies the client lookup and mints its own ES256 JWTs.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property
from typing import Any

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from lgsp.auth.clients import KNOWN_SCOPES
from lgsp.auth.models import OAuthClient
from lgsp.auth.secrets import could_be_client_id, verify_secret
from lgsp.auth.tokens import TokenService


class RegisteredClient(ClientMixin):
    """authlib's view of one row of `oauth_clients`."""

    def __init__(self, row: OAuthClient) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.row.scopes.split())
        if not scope:
            return " ".join(sorted(allowed))
        return " ".join(s for s in scope_to_list(scope) or [] if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_secret(client_secret, self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class FormPayload(OAuth2Payload):
    def __init__(self, form: dict[str, list[str]]) -> None:
        self._form = form

    @property
    def data(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._form.items() if v}

    @cached_property
    def datalist(self) -> defaultdict[str, list[str]]:
        return defaultdict(list, self._form)


class FormRequest(OAuth2Request):
    """An OAuth2 request built from an already-read form body (the endpoint runs in a worker thread)."""

    def __init__(self, method: str, uri: str, headers: dict[str, str], form: dict[str, list[str]]) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self.payload = FormPayload(form)
        self._form = form

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in self._form.items() if v}


class ClientCredentials(ClientCredentialsGrant):
    """RFC 6749 §4.4, accepting the secret by HTTP Basic (preferred) or in the form body."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def validate_token_request(self) -> None:
        """Authenticate the client, then refuse (RFC 6749 §5.2 `invalid_scope`) any scope it does not hold,
        rather than silently issuing a token with fewer scopes than asked for."""
        super().validate_token_request()
        client = self.request.client
        assert isinstance(client, RegisteredClient)
        requested = set(scope_to_list(self.request.payload.scope) or [])
        missing = requested - set(client.row.scopes.split())
        if missing:
            raise InvalidScopeError(description=f"this client may not ask for: {' '.join(sorted(missing))}")


class TokenEndpoint(AuthorizationServer):
    """Authorization server issuing lgsp access tokens to registered, enabled clients."""

    def __init__(self, engine: Engine, tokens: TokenService) -> None:
        super().__init__(scopes_supported=sorted(KNOWN_SCOPES))
        self._engine = engine
        self._tokens = tokens
        self.register_grant(ClientCredentials)
        self.register_token_generator("default", self._generate)

    def query_client(self, client_id: str) -> RegisteredClient | None:
        if not could_be_client_id(client_id):
            return None  # never looked up: PostgreSQL refuses a NUL in a query parameter (that was a 500)
        with Session(self._engine) as session:
            row = session.get(OAuthClient, client_id)
            if row is None or row.disabled:
                return None
            session.expunge(row)
            return RegisteredClient(row)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Nothing to save: access tokens are self-contained signed JWTs."""

    def _generate(self, grant_type: str, client: RegisteredClient, user: Any = None, scope: str | None = None,
                  expires_in: int | None = None, include_refresh_token: bool = False) -> dict[str, Any]:
        scopes = client.get_allowed_scope(scope).split()
        access_token, lifetime = self._tokens.issue(client.row.client_id, client.row.system_id, scopes,
                                                    not_before=client.row.tokens_not_before)
        return {"access_token": access_token, "token_type": "Bearer", "expires_in": lifetime,
                "scope": " ".join(scopes)}

    def create_oauth2_request(self, request: FormRequest) -> FormRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None
