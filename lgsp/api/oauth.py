"""`POST /oauth/token` (client credentials), `GET /.well-known/jwks.json` and server metadata."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from lgsp.api.deps import runtime_of
from lgsp.api.models import Jwks, OAuthError, ServerMetadata, TokenForm, TokenResponse
from lgsp.auth.oauth import FormRequest

router = APIRouter(tags=["oauth"])
_MAX_FORM = 16 * 1024


def _oauth_error(description: str) -> dict[str, Any]:
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
                 400: _oauth_error("`invalid_request`, `unsupported_grant_type`, `invalid_scope` (RFC 6749 §5.2)"),
                 401: _oauth_error("`invalid_client`: unknown client, wrong secret or disabled client"),
                 413: _oauth_error("`invalid_request`: the form is larger than 16 KiB")})
async def token(request: Request) -> Response:
    runtime = runtime_of(request)
    body = await request.body()
    if len(body) > _MAX_FORM:
        return JSONResponse({"error": "invalid_request", "error_description": "request too large"}, 413)
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        return JSONResponse({"error": "invalid_request",
                             "error_description": "use application/x-www-form-urlencoded"}, 400)
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    uri = runtime.settings.public_url.rstrip("/") + "/oauth/token"
    # authlib looks headers up case-sensitively ("Authorization"); Starlette's Headers is case-insensitive.
    oauth_request = FormRequest("POST", uri, request.headers, form)  # type: ignore[arg-type]
    status, payload, headers = await run_in_threadpool(runtime.token_endpoint.create_token_response,
                                                       oauth_request)
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
        "scopes_supported": ["gateway", "admin", "auditor"],
    }
