"""`POST /oauth/token` (client credentials), `GET /.well-known/jwks.json` and server metadata."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from lgsp.api.deps import runtime_of
from lgsp.api.intake import read_limited
from lgsp.api.models import Jwks, OAuthError, ServerMetadata, TokenForm, TokenResponse
from lgsp.api.routing import StrictJsonRoute
from lgsp.auth.clients import KNOWN_SCOPES
from lgsp.auth.oauth import FormRequest
from lgsp.problems import Problem

router = APIRouter(route_class=StrictJsonRoute, tags=["oauth"])
_MAX_FORM = 16 * 1024
_INVALID_CLIENT_HEADERS = {"WWW-Authenticate": 'Basic realm="lgsp", error="invalid_client"',
                           "Cache-Control": "no-store"}


class _Credentials:
    """The client credentials a token request carries, read once, strictly, before authlib sees them.

    Why here and not in authlib: authlib decodes HTTP Basic leniently (base64 that skips stray
    characters, a 500 on ``Basic `` with nothing after it) and tries Basic and then the form in turn, so
    the id it authenticated could differ from the id the failure throttle counted, and one request could
    carry two client authentications (RFC 6749 §2.3 forbids that). authlib is now handed exactly the
    credentials read here (a canonical Basic header, or the form), so both always agree.
    """

    def __init__(self, header: str | None, form: dict[str, list[str]]) -> None:
        self.basic: tuple[str, str] | None = None
        #: Why the Authorization header was refused (401 invalid_client), or None.
        self.malformed: str | None = None
        scheme, _, token = (header or "").strip().partition(" ")
        if scheme.lower() == "basic":
            self.basic = self._decode(token.strip(" "))
        in_form = form.get("client_id")
        self.client_id = self.basic[0] if self.basic else in_form[0] if in_form else None

    def _decode(self, token: str) -> tuple[str, str] | None:
        try:
            text = base64.b64decode(token, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
            self.malformed = "the HTTP Basic credentials are not base64 of UTF-8 text (RFC 7617)"
            return None
        client_id, colon, secret = text.partition(":")
        if not colon or not client_id or not secret:
            self.malformed = "the HTTP Basic credentials must be 'client_id:client_secret'"
            return None
        return unquote(client_id), unquote(secret)  # RFC 6749 §2.3.1: both are form-urlencoded

    def conflict(self, form: dict[str, list[str]]) -> str | None:
        """Why the request mixes two ways of authenticating the client, or None."""
        if self.basic is None:
            return None
        if "client_secret" in form:
            return ("authenticate the client once: HTTP Basic or client_secret in the form, not both "
                    "(RFC 6749 §2.3)")
        if form.get("client_id", [self.basic[0]]) != [self.basic[0]]:
            return "the form's client_id differs from the HTTP Basic client id"
        return None

    def headers_for_authlib(self) -> dict[str, str]:
        """The only header authlib reads: Basic credentials re-encoded so that it decodes exactly ours."""
        if self.basic is None:
            return {}
        pair = f"{quote(self.basic[0], safe='')}:{quote(self.basic[1], safe='')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def _oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status, headers=headers)


def _error_doc(description: str) -> dict[str, Any]:
    return {"description": description, "model": OAuthError}


_TOKEN_CONTRACT: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
        "schema": {"$ref": "#/components/schemas/TokenForm"},
        "example": {"grant_type": "client_credentials", "scope": "gateway"}}}},
    "security": [{"clientSecretBasic": []}, {}],
    "x-lgsp-models": [TokenForm.__name__, OAuthError.__name__],
}


@router.post("/oauth/token", summary="Issue an access token (OAuth2 client credentials)", response_model=TokenResponse,
             openapi_extra=_TOKEN_CONTRACT, responses={
                 400: _error_doc("`invalid_request`, `unsupported_grant_type`, `invalid_scope` (RFC 6749 §5.2)"),
                 401: _error_doc("`invalid_client`: unknown client, wrong secret or disabled client"),
                 413: _error_doc("`invalid_request`: the form is larger than 16 KiB"),
                 429: _error_doc("`temporarily_unavailable`: too many failed attempts (Retry-After)")})
async def token(request: Request) -> Response:
    runtime = runtime_of(request)
    try:
        body = await read_limited(request, _MAX_FORM, "a token request")
    except Problem:
        return _oauth_error(413, "invalid_request", "request too large")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()  # RFC 9110 §8.3.1
    if content_type != "application/x-www-form-urlencoded":
        return _oauth_error(400, "invalid_request", "use application/x-www-form-urlencoded")
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    repeated = sorted(name for name, values in form.items() if len(values) > 1)
    if repeated:  # authlib would use the first and ignore the rest
        return _oauth_error(400, "invalid_request", "parameters may not be repeated (RFC 6749 §3.2): "
                                                    + ", ".join(name[:40] for name in repeated[:5]))
    authorizations = request.headers.getlist("authorization")
    if len(authorizations) > 1:  # which one authlib, the throttle or a proxy would read is anyone's guess
        return _oauth_error(400, "invalid_request", "send one Authorization header, not several")
    credentials = _Credentials(authorizations[0] if authorizations else None, form)
    client_key = credentials.client_id[:64] if credentials.client_id else None
    keys = (f"client:{client_key}" if client_key else None,
            f"addr:{request.client.host}" if request.client else None)
    throttle = runtime.token_failures
    wait = throttle.retry_after(*keys)
    if wait is not None:
        return _oauth_error(429, "temporarily_unavailable",
                            f"too many failed attempts; retry after {wait} s", {"Retry-After": str(wait)})
    if credentials.malformed:
        throttle.record_failure(*keys)
        return _oauth_error(401, "invalid_client", credentials.malformed, _INVALID_CLIENT_HEADERS)
    conflict = credentials.conflict(form)
    if conflict:
        return _oauth_error(400, "invalid_request", conflict)
    uri = runtime.settings.public_url.rstrip("/") + "/oauth/token"
    oauth_request = FormRequest("POST", uri, credentials.headers_for_authlib(), form)
    status, payload, headers = await run_in_threadpool(runtime.token_endpoint.create_token_response,
                                                       oauth_request)
    if isinstance(payload, dict) and payload.get("error") == "invalid_client":
        throttle.record_failure(*keys)
        # One answer for an unknown client, a wrong secret and a disabled client (authlib tells them
        # apart, in its description and as 400 or 401), so an answer never says whether an id exists.
        return _oauth_error(401, "invalid_client", "client authentication failed", _INVALID_CLIENT_HEADERS)
    content = payload if isinstance(payload, str) else json.dumps(payload)
    return Response(content, status_code=status, media_type="application/json", headers=dict(headers))


@router.get("/.well-known/jwks.json", summary="Public keys that verify lgsp access tokens", response_model=Jwks)
async def jwks(request: Request) -> dict[str, Any]:
    return runtime_of(request).keyring.jwks()


@router.get("/.well-known/oauth-authorization-server", summary="OAuth2 server metadata (RFC 8414)",
            response_model=ServerMetadata)
async def metadata(request: Request) -> dict[str, Any]:
    base = runtime_of(request).settings.public_url.rstrip("/")
    return {
        "issuer": base,
        "token_endpoint": base + "/oauth/token",
        "jwks_uri": base + "/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": sorted(KNOWN_SCOPES),
    }
