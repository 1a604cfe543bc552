"""`POST /oauth/token` (client credentials), `GET /.well-known/jwks.json` and server metadata."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, unquote

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


def _client_id_of(request: Request, form: dict[str, list[str]]) -> str | None:
    """The client id an attempt claims (HTTP Basic or form), for the per-client failure count."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and credentials:
        try:
            return unquote(base64.b64decode(credentials, validate=True).decode("utf-8").partition(":")[0])[:64]
        except (ValueError, UnicodeDecodeError):
            return None
    values = form.get("client_id")
    return values[0][:64] if values else None


def _basic_not_utf8(header: str) -> bool:
    """Whether ``header`` is HTTP Basic whose decoded credentials are not UTF-8 (RFC 7617 §2.1).

    authlib decodes Basic credentials as UTF-8 and catches only base64 errors, so such a header would
    end as a 500. Decoded here exactly as authlib does (split on the first whitespace, lenient base64):
    every header authlib could authenticate passes; only the ones that would crash it are answered.
    """
    parts = header.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "basic":
        return False
    try:
        base64.b64decode(parts[1]).decode("utf-8")
    except UnicodeDecodeError:
        return True
    except ValueError:  # not base64: authlib ignores the header and answers invalid_client itself
        return False
    return False


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
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        return _oauth_error(400, "invalid_request", "use application/x-www-form-urlencoded")
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    client_key = _client_id_of(request, form)
    keys = (f"client:{client_key}" if client_key else None,
            f"addr:{request.client.host}" if request.client else None)
    throttle = runtime.token_failures
    wait = throttle.retry_after(*keys)
    if wait is not None:
        return _oauth_error(429, "temporarily_unavailable",
                            f"too many failed attempts; retry after {wait} s", {"Retry-After": str(wait)})
    if _basic_not_utf8(request.headers.get("authorization", "")):
        throttle.record_failure(*keys)
        return _oauth_error(401, "invalid_client", "the HTTP Basic credentials are not UTF-8 (RFC 7617)",
                            {"WWW-Authenticate": 'Basic error="invalid_client"', "Cache-Control": "no-store"})
    uri = runtime.settings.public_url.rstrip("/") + "/oauth/token"
    # authlib looks headers up case-sensitively ("Authorization"); Starlette's Headers is case-insensitive.
    oauth_request = FormRequest("POST", uri, request.headers, form)  # type: ignore[arg-type]
    status, payload, headers = await run_in_threadpool(runtime.token_endpoint.create_token_response,
                                                       oauth_request)
    if isinstance(payload, dict) and payload.get("error") == "invalid_client":
        throttle.record_failure(*keys)
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
