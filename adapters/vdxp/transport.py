"""The one seam between :class:`~adapters.vdxp.client.AxisClient` and the network.

The client builds complete requests (headers and body bytes, multipart included) and hands them to a
``Transport``; tests and alternative stacks (an in-process ASGI transport, a recording proxy) only need
to implement :meth:`Transport.send`. The aiohttp transport maps network failures to
:class:`RetryableAxisError` so the client's error taxonomy stays transport-independent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from .errors import RetryableAxisError


@dataclass(frozen=True)
class TransportResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> TransportResponse:
        """Perform one HTTP exchange; raise RetryableAxisError when no response arrives."""
        ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """HTTP via one pooled ``aiohttp.ClientSession`` (created lazily inside the running loop)."""

    def __init__(self, *, timeout: float = 30.0, max_connections: int = 10) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> TransportResponse:
        try:
            async with self._client().request(method, url, headers=dict(headers), data=body) as response:
                payload = await response.read()
                return TransportResponse(response.status, dict(response.headers), payload)
        except TimeoutError as exc:
            raise RetryableAxisError(f"{method} {url} timed out", error_code="timeout") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise RetryableAxisError(f"{method} {url}: {exc}", error_code="connection") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
