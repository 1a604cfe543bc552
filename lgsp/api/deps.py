"""Shared dependencies of the FastAPI routers: the runtime and scope-checked callers."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request, Security

from lgsp.api.openapi import OAUTH2
from lgsp.auth.tokens import ClientIdentity, repeated_authorization, require_scope
from lgsp.gateway import client_certs
from lgsp.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def authorization_of(request: Request) -> str | None:
    """The request's one ``Authorization`` header (None without one); two or more are a 400 problem."""
    values = request.headers.getlist("authorization")
    if len(values) > 1:
        raise repeated_authorization()
    return values[0] if values else None


def caller_with(scope: str) -> Callable[..., ClientIdentity]:
    """A dependency that authenticates the bearer token and requires ``scope``.

    The ``Security(OAUTH2, scopes=[scope])`` parameter is what puts the OAuth2 requirement with its scope
    on the operation in OpenAPI; the token itself is checked by our own verifier (problem+json on failure).
    """

    def dependency(request: Request, _authorization: str | None = Security(OAUTH2, scopes=[scope])) -> (
        ClientIdentity
    ):
        runtime = runtime_of(request)
        identity = runtime.authenticate(authorization_of(request))
        require_scope(identity, scope)
        client_certs.check(identity, client_certs.transport_of(request.scope), request.scope["headers"], runtime)
        return identity

    return dependency
