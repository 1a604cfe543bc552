"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from lgsp import metrics
from lgsp.api.deps import authorization_of, runtime_of
from lgsp.api.models import Health, Readiness
from lgsp.api.openapi import problems
from lgsp.api.routing import StrictJsonRoute
from lgsp.problems import Problem
from lgsp.store.migrate import is_current

router = APIRouter(route_class=StrictJsonRoute, tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers", response_model=Health)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: store reachable and migrations current", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "Not ready: the store is unreachable or its "
                                                                "migrations are outdated"}})
async def readyz(request: Request) -> JSONResponse:
    runtime = runtime_of(request)

    def check() -> dict[str, str]:
        try:
            with runtime.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            return {"store": f"unreachable: {type(exc).__name__}"}
        return {"store": "ok", "migrations": "current" if is_current(runtime.engine) else "outdated"}

    checks = await run_in_threadpool(check)
    ready = checks.get("store") == "ok" and checks.get("migrations") == "current"
    return JSONResponse({"status": "ready" if ready else "not-ready", "checks": checks},
                        status_code=200 if ready else 503)


#: Scopes that may read `/metrics` (it names every service and its traffic): a scraper's own `metrics`
#: client, or an operator or auditor.
METRICS_SCOPES = frozenset({"metrics", "admin", "auditor"})


@router.get("/metrics", summary="Prometheus metrics (a token with the metrics, admin or auditor scope)",
            response_class=PlainTextResponse,
            responses={200: {"description": "Prometheus text exposition format (version 0.0.4)",
                             "content": {"text/plain": {"schema": {"type": "string"},
                                                        "example": "lgsp_requests_total{status=\"200\"} 3.0\n"}}},
                        **problems((401, "unauthenticated", "invalid-token"), (403, "forbidden"))})
async def prometheus(request: Request) -> Response:
    runtime = runtime_of(request)
    if not runtime.settings.metrics_public:
        identity = runtime.authenticate(authorization_of(request))
        if not identity.scopes & METRICS_SCOPES:
            raise Problem("forbidden", "/metrics needs the 'metrics', 'admin' or 'auditor' scope",
                          required_scope="metrics")
    payload, content_type = metrics.render()
    return Response(payload, media_type=content_type)
