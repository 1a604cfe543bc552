"""A small OpenID Connect provider for tests: real HTTP, real RS256-signed ID tokens, code flow with PKCE.

Only what the console's sign-in needs: discovery, JWKS, /authorize (a login form: pick a user), /token
(client_secret_basic, one-use codes, S256 code_verifier check). Not a product; never used outside tests and
the console screenshots.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class TestProvider:
    client_id: str = "lgsp-console"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    #: username -> claims added to the ID token (e.g. {"roles": ["auditor"], "name": "..."}).
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    issuer: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "test-1"}))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: int = 0

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks", self.jwks),
            Route("/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/token", self.token, methods=["POST"]),
        ])

    async def discovery(self, request: Request) -> Response:
        return JSONResponse({"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                             "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                             "response_types_supported": ["code"], "subject_types_supported": ["public"],
                             "id_token_signing_alg_values_supported": ["RS256"],
                             "code_challenge_methods_supported": ["S256"]})

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        if params.get("client_id") != self.client_id or params.get("code_challenge_method") != "S256":
            return Response("bad authorization request", status_code=400)
        if request.method == "GET":
            options = "".join(f'<option value="{html.escape(u)}">{html.escape(u)}</option>' for u in self.users)
            return HTMLResponse(f'<form method="post"><select name="user" id="idp-user">{options}</select>'
                                f'<button id="idp-login">Sign in at the provider</button></form>')
        form = await request.form()
        user = str(form.get("user", ""))
        if user not in self.users:
            return Response("unknown user", status_code=403)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"user": user, "challenge": params["code_challenge"], "nonce": params.get("nonce"),
                            "redirect_uri": params["redirect_uri"], "at": time.time()}
        query = urlencode({"code": code, "state": params.get("state", "")})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=303)

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        auth = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if auth != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = await request.form()
        grant = self.codes.pop(str(form.get("code", "")), None)
        if grant is None or time.time() - grant["at"] > 60:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["challenge"] or form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE or redirect mismatch"},
                                status_code=400)
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": grant["user"], "aud": self.client_id, "iat": now, "exp": now + 300,
                  "nonce": grant["nonce"], "preferred_username": grant["user"], **self.users[grant["user"]]}
        id_token = jwt.encode({"alg": "RS256", "kid": "test-1"}, claims, self.key)
        return JSONResponse({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                             "id_token": id_token})
