"""The application factory: one ASGI callable serving the gateway and the APIs.

`/services/...` goes straight to the gateway pipeline (a raw ASGI handler: no framework routing or
validation on the hot path); everything else is a FastAPI app (OAuth2, admin, audit, health).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from lgsp import agency_ids, gctune, memory
from lgsp.adapters import parts
from lgsp.api import admin, audit, docs_ui, documents, health, oauth, openapi, problems, traffic
from lgsp.api import object_grants as object_grants_api
from lgsp.api.verify_access import verify_access
from lgsp.console.mount import LazyConsole
from lgsp.gateway import pipeline
from lgsp.gateway.client_certs import PeerRecorder
from lgsp.runtime import Runtime
from lgsp.settings import Settings
from lgsp.xml_limits import entry_limits
from signing import http as signing_http

DESCRIPTION = """Local Government Service Platform: gateway, registry, audit, documents, dossiers, signatures.

Every error is RFC 9457 `application/problem+json` with a stable `type` (the `Problem` schema lists them);
the token endpoint answers RFC 6749 errors. Calls through the gateway (`/services/{agency}/{system}/{service}/...`)
follow each service's own contract and are not described here.
"""


class LgspApp:
    """Dispatches by path prefix; lifespan and everything but the gateway go to FastAPI."""

    def __init__(self, runtime: Runtime, api: FastAPI) -> None:
        self.runtime = runtime
        self.api = api

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(pipeline.PREFIX):
            await pipeline.handle(scope, receive, send, self.runtime)
        elif scope["type"] == "http":
            await self._api_request(scope, receive, send)
        else:
            await self.api(scope, receive, send)

    async def _api_request(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """An API request; once one with a large body (documents, signatures) is answered, trim the heap.

        The gateway path streams bodies through and is left alone (it is the hot path, see issue 14).
        """
        received = 0

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            return message

        try:
            await self.api(scope, counting_receive, send)
        finally:
            if received >= memory.TRIM_AFTER_BYTES:
                await asyncio.to_thread(memory.release_free_memory)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None, serving: bool = False) -> LgspApp:
    """The app; ``serving`` (set by `lgsp serve`'s factory only) also tunes the garbage collector after start-up."""
    settings = settings or Settings.load()
    agency_ids.configure(settings.agency_id_patterns)
    runtime = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if serving and settings.gc_freeze_after_start:
            gctune.tune_after_startup(settings.gc_gen0_threshold)
        try:
            yield
        finally:
            await runtime.stop()

    api = FastAPI(title="lgsp", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description=DESCRIPTION, generate_unique_id_function=openapi.operation_id)
    api.state.runtime = runtime
    problems.install(api)
    openapi.describe_signature_verification(signing_http.router)
    for router in (oauth.router, admin.router, audit.router, health.router, signing_http.router,
                   documents.router, traffic.admin_router, traffic.usage_router, object_grants_api.router):
        api.include_router(router)
    for _, router in parts("routers"):  # each adapter's own endpoints (AdapterInfo.routers)
        api.include_router(router)
    if settings.console_enabled:
        api.mount("/console", LazyConsole(runtime))
    openapi.install(api)
    docs_ui.install(api)
    if runtime.verifier is not None:
        signing_http.configure_verifier(runtime.verifier)  # one set of chain/revocation caches per process
    signing_http.configure_access(verify_access(runtime))  # a token, or the small anonymous limit
    signing_http.configure_xml_limits(entry_limits("signatures", settings=settings))
    return LgspApp(runtime, api)


def app_from_env() -> LgspApp:
    """Factory for `uvicorn --factory lgsp.app:app_from_env` (used by `lgsp serve --workers N`)."""
    from lgsp import logs

    settings = Settings.load()
    logs.configure(settings.log_level)
    return create_app(settings, serving=True)


def served_app() -> PeerRecorder:
    """The app ``lgsp serve`` runs (uvicorn's own proxy-header handling off; this one does it)."""
    return PeerRecorder(app_from_env(), os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"))
