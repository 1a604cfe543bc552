"""Sign in (local account or the identity provider), sign out."""

from __future__ import annotations

import hmac
import re

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from lgsp.auth.throttle import FailureThrottle
from lgsp.console import accounts, sessions
from lgsp.console.accounts import AccountError, LoginRefused
from lgsp.console.oidc import OidcClient, SignInError
from lgsp.console.web import (
    LOGIN_CSRF_COOKIE,
    audit_action,
    form_of,
    new_login_csrf,
    render,
    runtime_of,
    viewer,
)

router = APIRouter()
OIDC_STATE_COOKIE = "lgsp_oidc_state"
OAUTH_ERROR_RE = re.compile(r"[a-z_]{1,64}")  # access_denied, login_required, temporarily_unavailable...


def _password_checks(request: Request) -> anyio.CapacityLimiter:
    """Two scrypt checks at a time, off the event loop: each takes ~50 ms of CPU and 32 MiB, so a flood of
    sign-in attempts waits here instead of stopping the gateway (on the loop) or taking 40 x 32 MiB (in the
    shared thread pool). One per console app, made on first use inside its event loop."""
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "password_checks", None)
    if limiter is None:
        limiter = request.app.state.password_checks = anyio.CapacityLimiter(2)
    return limiter


def _cookie_secure(request: Request) -> bool:
    setting = runtime_of(request).settings.console_cookie_secure
    if setting == "auto":
        return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    return setting.lower() in {"1", "true", "yes", "on"}


def _login_page(request: Request, status: int = 200, error: str | None = None, username: str = "") -> Response:
    csrf = new_login_csrf()
    response = render(request, "login.html", None, status=status, error=error, username=username, csrf=csrf,
                      sso=bool(runtime_of(request).settings.oidc_issuer))
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=_cookie_secure(request),
                        path=request.scope.get("root_path", "") + "/login", max_age=1800)
    return response


def _signed_in(request: Request, person: accounts.Person, from_provider: bool = False) -> Response:
    """The session cookie, and on to the home page. From the identity provider, by a page of our own that
    moves on: the redirect chain began on the provider's site, so a 303 loaded home without the SameSite=Strict
    cookie and showed the sign-in page again (where the provider is another site, as in production)."""
    token = sessions.create(runtime_of(request).engine, person)
    home = str(request.url_for("home"))
    response: Response = (render(request, "signed_in.html", None, home=home) if from_provider
                          else RedirectResponse(home, status_code=303))
    response.set_cookie(sessions.COOKIE, token, httponly=True, samesite="strict", secure=_cookie_secure(request),
                        path=request.scope.get("root_path", "") or "/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=request.scope.get("root_path", "") + "/login")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await form_of(request)
    username = str(form.get("username", ""))[:100]
    failures: FailureThrottle = request.app.state.login_failures
    address = f"addr:{request.client.host}" if request.client else None
    wait = failures.retry_after(address)
    if wait is not None:  # one password tried on every account: the per-account lockout never trips
        await audit_action(request, None, "login", "refused: too many failures from this address", 429,
                           username=username or "-")
        response = _login_page(request, 429, f"too many failed sign-ins from this address: retry after {wait} s",
                               username)
        response.headers["retry-after"] = str(wait)
        return response
    try:
        person = await anyio.to_thread.run_sync(accounts.authenticate, runtime_of(request).engine, username,
                                                str(form.get("password", ""))[:1000], limiter=_password_checks(request))
    except LoginRefused as refused:
        failures.record_failure(address)
        await audit_action(request, None, "login", f"refused: {refused.reason}", 401, username=username or "-")
        from lgsp.console.i18n import label
        from lgsp.console.web import lang_of

        # the same page for a locked account as for a wrong password or an unknown name (the audit entry
        # keeps the reason): a different one told anybody which usernames exist
        return _login_page(request, 401, label("login_failed", lang_of(request)), username)
    await audit_action(request, person, "login", "local", 200)
    return await run_in_threadpool(_signed_in, request, person)


@router.post("/logout")
async def logout(request: Request) -> Response:
    view = await run_in_threadpool(viewer, request)
    await form_of(request, view)
    runtime = runtime_of(request)
    await run_in_threadpool(sessions.end, runtime.engine, request.cookies.get(sessions.COOKIE))
    await audit_action(request, view.person, "logout", "", 200)
    response = RedirectResponse(str(request.url_for("login_form")), status_code=303)
    response.delete_cookie(sessions.COOKIE, path=request.scope.get("root_path", "") or "/")
    return response


def _oidc(request: Request) -> OidcClient:
    runtime = runtime_of(request)
    client: OidcClient | None = getattr(request.app.state, "oidc", None)
    if client is None:
        client = OidcClient(runtime.settings)
        request.app.state.oidc = client
    return client


@router.get("/oidc/start")
async def oidc_start(request: Request) -> Response:
    if not runtime_of(request).settings.oidc_issuer:
        return _login_page(request, 404, "single sign-on is not configured (LGSP_OIDC_ISSUER)")
    try:
        url, state = await _oidc(request).start(runtime_of(request).engine, str(request.url_for("oidc_callback")))
    except Exception as exc:
        return _login_page(request, 502, f"the identity provider cannot be reached: {type(exc).__name__}")
    response = RedirectResponse(url, status_code=303)
    # Lax, not Strict: the callback is a navigation from the identity provider's site
    response.set_cookie(OIDC_STATE_COOKIE, state, httponly=True, samesite="lax", secure=_cookie_secure(request),
                        path=_oidc_path(request), max_age=600)
    return response


def _oidc_path(request: Request) -> str:
    return request.scope.get("root_path", "") + "/oidc"


def _provider_error(code: str) -> str:
    """The provider's `error` as shown on the page: an RFC 6749 error code, or a note that it was not one.
    Anyone can send a link to the callback, so free text there was the attacker's message on the sign-in page."""
    return code if OAUTH_ERROR_RE.fullmatch(code) else "(not an OAuth error code)"


@router.get("/oidc/callback")
async def oidc_callback(request: Request) -> Response:
    runtime = runtime_of(request)
    params = request.query_params
    if params.get("error"):
        return _login_page(request, 401, f"the identity provider said: {_provider_error(params['error'])}")
    bound = request.cookies.get(OIDC_STATE_COOKIE, "")
    if not bound or not hmac.compare_digest(bound, params.get("state", "")):  # RFC 6749 10.12: login CSRF
        await audit_action(request, None, "login", "refused: state not started in this browser", 401,
                           username="oidc")
        return _login_page(request, 401, "this sign-in was not started in this browser: start again")
    try:
        identity = await _oidc(request).finish(runtime.engine, str(request.url_for("oidc_callback")),
                                               params.get("state", ""), params.get("code", ""))
        person = accounts.sign_in_external(runtime.engine, identity.issuer, identity.subject, identity.role,
                                           identity.name)
    except (SignInError, AccountError) as exc:
        await audit_action(request, None, "login", f"refused: {str(exc)[:200]}", 401, username="oidc")
        return _login_page(request, 401, str(exc))
    await audit_action(request, person, "login", f"oidc {identity.issuer}", 200)
    response = await run_in_threadpool(_signed_in, request, person, True)
    response.delete_cookie(OIDC_STATE_COOKIE, path=_oidc_path(request))
    return response
