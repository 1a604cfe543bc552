"""The JSON API's route class: request bodies are parsed by :mod:`lgsp.jsontext`.

Why: FastAPI parses a JSON body with ``json.loads``. It already turns that function's errors into a 400
or a 422, but one thing gets through: a lone surrogate. A registry name, a base URL or a client
description that held one (``"\\ud800"``) reached the database, which cannot encode it, and the caller
got a 500. :func:`lgsp.jsontext.loads` refuses it as malformed JSON. FastAPI answers a
``JSONDecodeError`` with a 422 that quotes the reason, and the handler never runs.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from lgsp import jsontext


class StrictJsonRequest(Request):
    """A request whose ``json()`` refuses what :func:`lgsp.jsontext.loads` refuses."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = jsontext.loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """The route class of every JSON API router (``APIRouter(route_class=StrictJsonRoute)``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_json(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_json
