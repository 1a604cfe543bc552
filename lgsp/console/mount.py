"""The console as mounted at `/console`: built on its first request, not when the gateway starts.

The console pulls in Jinja2, httpx (single sign-on), its page modules and their queries: about a tenth of
`lgsp serve`'s start-up, for pages an operator opens now and then. The gateway and the APIs are ready
without it; the first console request builds it once (the routes do not change afterwards).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import Receive, Scope, Send

    from lgsp.runtime import Runtime


class LazyConsole:
    """An ASGI app that creates :func:`lgsp.console.app.create_console` on first use."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._app: FastAPI | None = None

    @property
    def app(self) -> FastAPI:
        if self._app is None:
            from lgsp.console.app import create_console

            self._app = create_console(self._runtime)
        return self._app

    @property
    def routes(self) -> list[Any]:
        """What Starlette's `url_for` looks into through the mount (it builds the console if need be)."""
        return list(self.app.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
