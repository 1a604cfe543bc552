"""Traffic limits over HTTP: `/admin/limits` for operators, `GET /usage` for a client system.

`/usage` answers for the caller's own system only (its token says which): each limit that applies to it on
every service it may call, what is used and when it resets, so a department system can pace a batch job
instead of discovering limits by being refused.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from lgsp.api.bodies import LimitIn
from lgsp.api.deps import caller_with, runtime_of
from lgsp.api.models import LimitOut, Usage
from lgsp.api.openapi import problems
from lgsp.api.routing import StrictJsonRoute
from lgsp.auth.tokens import ClientIdentity
from lgsp.problems import Problem
from lgsp.store.db import writer
from lgsp.traffic.backends import BackendUnavailable
from lgsp.traffic.limiter import limits_for
from registry import limits as lim

admin_router = APIRouter(route_class=StrictJsonRoute, prefix="/admin", tags=["admin"],
                         dependencies=[Depends(caller_with("admin"))])
usage_router = APIRouter(route_class=StrictJsonRoute, tags=["traffic"])


@admin_router.get("/limits", response_model=list[LimitOut], summary="Traffic limits (rate, quota, concurrency)")
def list_limits(request: Request) -> list[dict[str, Any]]:
    with Session(runtime_of(request).engine) as session:
        return [lim.spec_to_mapping(spec) for spec in lim.list_specs(session)]


@admin_router.put("/limits", response_model=LimitOut, responses=problems(404, (422, "validation-failed")),
                  summary="Set a limit on a service, for one client system or for all")
def put_limit(body: LimitIn, request: Request) -> dict[str, Any]:
    spec = lim.spec_from_mapping(body.model_dump(exclude_none=True), "body")
    runtime = runtime_of(request)
    with Session(writer(runtime.engine)) as session, session.begin():
        lim.upsert_limit(session, spec)
    runtime.registry_changed()
    return lim.spec_to_mapping(spec)


@admin_router.delete("/limits", status_code=204, responses=problems(404, (422, "validation-failed")),
                     summary="Remove a limit")
def delete_limit(request: Request, service: str = Query(...), client: str = Query("")) -> None:
    runtime = runtime_of(request)
    with Session(writer(runtime.engine)) as session, session.begin():
        lim.delete_limit(session, service, client)
    runtime.registry_changed()


@usage_router.get("/usage", response_model=Usage, responses=problems((503, "limits-unavailable")),
                  summary="The caller's own limits, what is used and when it resets")
async def usage(request: Request, caller: ClientIdentity = Depends(caller_with("gateway"))) -> dict[str, Any]:
    runtime = runtime_of(request)
    system = caller.system_id or caller.client_id
    snapshot = runtime.registry.current()
    services = sorted({service for _, service in snapshot.limits})
    items = []
    for service in services:
        if not any(k[0] == system for k in snapshot.grants if k[1] == service):
            continue  # limits of services the caller cannot call are none of its business
        try:
            found = await runtime.traffic.usage(limits_for(snapshot.limits, system, service), system)
        except BackendUnavailable as exc:  # the same answer a limited call gets when counters are down
            raise Problem("limits-unavailable", "the gateway cannot read its traffic counters right now",
                          headers={"Retry-After": "5"}) from exc
        for limit, state in found:
            items.append({
                "service": service, "limit": state.name, "shared": limit.scope_name == "service",
                "quota": state.quota, "window_seconds": round(state.window_seconds, 3),
                "remaining": state.remaining, "used": state.quota - state.remaining,
                "resets_in_seconds": round(max(state.reset_seconds, 0.0), 3),
            })
    return {"system": system, "backend": runtime.traffic.backend.name, "limits": items}
