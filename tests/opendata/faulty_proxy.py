"""A real HTTP reverse proxy in front of the served CKAN that fails chosen CKAN actions with 500.

This is how the tests make a real CKAN "answer 500 half-way": the proxy either refuses the call
before CKAN sees it (``when="before"``: CKAN did nothing) or forwards it and then replaces CKAN's
answer with a 500 (``when="after"``: CKAN did the work but the client never learns it) -- the nastier
case for idempotency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}


@dataclass
class Fault:
    action: str
    when: str = "before"  # "before" | "after"
    times: int = 1


@dataclass
class ProxyState:
    faults: list[Fault] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)


def create_proxy(upstream: str, state: ProxyState) -> Starlette:
    client = httpx.AsyncClient(base_url=upstream, timeout=120)

    async def forward(request: Request) -> Response:
        action = request.url.path.rsplit("/", 1)[-1] if "/api/" in request.url.path else ""
        state.seen.append(action)
        fault = next((f for f in state.faults if f.action == action and f.times > 0), None)
        if fault and fault.when == "before":
            fault.times -= 1
            return JSONResponse({"success": False, "error": {"message": "injected 500"}}, status_code=500)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        upstream_response = await client.request(request.method, request.url.path, params=request.query_params,
                                                 content=await request.body(), headers=headers)
        if fault and fault.when == "after":
            fault.times -= 1
            return JSONResponse({"success": False, "error": {"message": "injected 500"}}, status_code=500)
        return Response(upstream_response.content, status_code=upstream_response.status_code,
                        media_type=upstream_response.headers.get("content-type"))

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])
