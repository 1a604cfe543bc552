"""The console as an ASGI sub-application mounted at `/console` by `lgsp.app.create_app`.

HTML all the way: errors are pages (404 for unknown ids, 403 for a missing right, a redirect to the login
page without a session), never JSON or a traceback. Every response carries a strict Content-Security-Policy
(scripts and styles from this origin only: no inline script, no CDN), no framing, no referrer leaks.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from lgsp.auth.throttle import FailureThrottle
from lgsp.console import actions, auth_pages, pages
from lgsp.console.web import HERE, NUL_MESSAGE, ConsoleError, NeedsLogin, has_nul, render
from lgsp.runtime import Runtime

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # no-referrer would make browsers send "Origin: null" on our own forms
    "cache-control": "no-store",
}


def _error(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", None, status=status, status_code=status, message=message)


def create_console(runtime: Runtime) -> FastAPI:
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    console.state.runtime = runtime
    console.state.login_failures = FailureThrottle(runtime.settings.console_login_failure_limit, 900)
    console.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in (auth_pages.router, pages.router, actions.router):
        console.include_router(router)

    @console.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        try:
            if has_nul(request.scope.get("path", ""), *request.query_params.multi_items()):
                response: Response = _error(request, 422, NUL_MESSAGE)  # PostgreSQL refuses NUL in text: a 500
            else:
                response = await call_next(request)
        except Exception as exc:  # a bug or the store failing: an error page, logged, never a reset connection
            runtime.log.exception("console page failed", path=request.url.path)
            response = _error(request, 500, f"the page failed ({type(exc).__name__}); the error is in the server log")
        for name, value in SECURITY_HEADERS.items():
            if name == "cache-control" and request.url.path.startswith(request.scope.get("root_path", "") + "/static"):
                continue
            response.headers.setdefault(name, value)
        return response

    @console.exception_handler(NeedsLogin)
    async def needs_login(request: Request, exc: NeedsLogin) -> Response:
        return RedirectResponse(str(request.url_for("login_form")), status_code=303)

    @console.exception_handler(ConsoleError)
    async def console_error(request: Request, exc: ConsoleError) -> Response:
        return _error(request, exc.status, exc.message)

    @console.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    @console.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors())
        return _error(request, 404 if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()) else 422,
                      f"invalid input: {where}")

    return console
