"""Render every error of the FastAPI side as RFC 9457 problem+json."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import compile_path

from lgsp.auth.clients import ClientError
from lgsp.problems import PROBLEM_CONTENT_TYPE, Problem
from lgsp.store.wait_bound import describe, is_store_wait
from registry.operations import RegistryError, RegistryNotFound

_STATUS_KIND = {400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found",
                405: "method-not-allowed", 409: "conflict", 413: "payload-too-large",
                415: "unsupported-media-type", 422: "validation-failed"}


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(problem.to_dict(instance=str(request.url.path)), status_code=problem.status,
                        media_type=PROBLEM_CONTENT_TYPE, headers=problem.headers)


class ProblemOnCrash:
    """Innermost catch-all (pure ASGI): a bug or a failing dependency answers problem+json with no detail
    of the cause (exception texts name server paths, SQL and hosts); the traceback goes to the log only.

    Starlette's own 500 handler re-raises after answering, which makes the server drop the keep-alive
    connection under the client's next request; this one answers and keeps the connection usable.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            # The caller left (or lgsp's body deadline closed the connection, having answered 408): nobody
            # is there to answer, and it is not a server fault worth a traceback at error level.
            structlog.get_logger("lgsp").info("client left before its request was read", path=scope.get("path"))
        except Exception as exc:
            if is_store_wait(exc):
                problem = store_unavailable(scope)
                structlog.get_logger("lgsp").error("store did not answer in time; request refused",
                                                   path=scope.get("path"), error=describe(exc))
            else:
                problem = Problem("internal-error", "the request could not be completed; the cause is in the server "
                                                    "log")
                structlog.get_logger("lgsp").error("request failed", path=scope.get("path"),
                                                   error=type(exc).__name__, exc_info=exc)
            if started:
                raise
            body = problem.body(instance=str(scope.get("path", "")))
            headers = [(b"content-type", PROBLEM_CONTENT_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                       *[(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]]
            await send({"type": "http.response.start", "status": problem.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})


def store_unavailable(scope: dict[str, Any]) -> Problem:
    """503 ``store-unavailable``: a statement waited its whole bound for a lock (``LOCK TABLE``, a migration).

    Its transaction was rolled back whole, so nothing of the request was kept (a document refused so is not
    stored, an admin change not made): the caller retries after ``Retry-After`` and the same call goes through
    once the lock is let go."""
    app = scope.get("app")
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    seconds = float(getattr(getattr(runtime, "settings", None), "store_lock_timeout_seconds", 0) or 0)
    return Problem("store-unavailable", "the store did not answer in time (another transaction holds a lock this "
                   "request needs); nothing of the request was kept, try again later",
                   headers={"Retry-After": str(max(1, round(seconds)) if seconds > 0 else 10)})


def install(app: FastAPI) -> None:
    app.add_middleware(ProblemOnCrash)

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RegistryError)
    async def on_registry_error(request: Request, exc: RegistryError) -> JSONResponse:
        return problem_response(Problem("validation-failed", str(exc),
                                        errors=[{"field": exc.field, "message": str(exc)}]), request)

    @app.exception_handler(ClientError)
    async def on_client_error(request: Request, exc: ClientError) -> JSONResponse:
        return problem_response(Problem("validation-failed", str(exc),
                                        errors=[{"field": exc.field, "message": str(exc)}]), request)

    @app.exception_handler(RegistryNotFound)
    async def on_not_found(request: Request, exc: RegistryNotFound) -> JSONResponse:
        return problem_response(Problem("not-found", str(exc)), request)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"), "message": err.get("msg")}
                  for err in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(Problem("validation-failed", detail, errors=errors), request)

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        kind = _STATUS_KIND.get(exc.status_code, "bad-request" if exc.status_code < 500 else "internal-error")
        # keep the framework's headers; a 405 must list every method of the resource (RFC 9110 §15.5.6)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        return problem_response(Problem(kind, str(exc.detail), status=exc.status_code, headers=headers), request)


def allowed_methods(request: Request) -> str:
    """All methods the published contract has for this path (Starlette lists only one route's)."""
    methods: set[str] = set()
    for template, item in request.app.openapi().get("paths", {}).items():
        if _compiled(template).match(request.url.path):
            methods |= {method.upper() for method in item}
    if "GET" in methods:
        methods.add("HEAD")  # Starlette answers HEAD wherever it answers GET
    return ", ".join(sorted(methods))


@lru_cache(maxsize=512)
def _compiled(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]
