"""The one seam between :class:`~adapters.vdxp.client.AxisClient` and the network.

The client builds complete requests (headers and body bytes, multipart included) and hands them to a
``Transport``; tests and alternative stacks (an in-process ASGI transport, a recording proxy) only need
to implement :meth:`Transport.send`. The aiohttp transport maps network failures to
:class:`RetryableAxisError` so the client's error taxonomy stays transport-independent.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeAlias

import aiohttp

from .errors import AxisResponseTooLarge, RetryableAxisError

#: A request body: bytes, or parts sent one after another (a multipart upload of a 67 MB packet is then
#: never concatenated into a second copy of the packet).
Body: TypeAlias = bytes | tuple[bytes, ...]


def body_bytes(body: Body | None) -> bytes | None:
    """The body as one bytes object (for transports that need one; copies when given parts)."""
    return b"".join(body) if isinstance(body, tuple) else body


@dataclass(frozen=True)
class TransportResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    async def send(self, method: str, url: str, headers: Mapping[str, str], body: Body | None) -> TransportResponse:
        """Perform one HTTP exchange; raise RetryableAxisError when no response arrives."""
        ...

    async def aclose(self) -> None: ...


#: The largest answer taken by default: a 100 MB packet as base64 inside JSON (``getEdoc``), plus room.
DEFAULT_MAX_RESPONSE_BYTES = 100 * 1024 * 1024 * 4 // 3 + 1024 * 1024


class AiohttpTransport:
    """HTTP via one pooled ``aiohttp.ClientSession`` (created lazily inside the running loop).

    Every answer is read up to ``max_response_bytes``: past it reading stops with
    :class:`AxisResponseTooLarge`. Before, a broken or hostile axis could stream gigabytes into the
    poller's memory within one timeout (and the oversized packet was then kept as rejected, in the store).
    """

    def __init__(self, *, timeout: float = 30.0, max_connections: int = 10,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_connections = max_connections
        self.max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: Body | None) -> TransportResponse:
        sent_headers = dict(headers)
        data: bytes | AsyncIterator[bytes] | None
        if isinstance(body, tuple):
            sent_headers["Content-Length"] = str(sum(len(part) for part in body))
            data = _parts(body)
        else:
            data = body
        try:
            async with self._client().request(method, url, headers=sent_headers, data=data) as response:
                body = await _body(response, self.max_response_bytes, f"{method} {url}")
                return TransportResponse(response.status, dict(response.headers), body)
        except TimeoutError as exc:
            raise RetryableAxisError(f"{method} {url} timed out", error_code="timeout") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise RetryableAxisError(f"{method} {url}: {exc}", error_code="connection") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _body(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The whole answer, gathered into one BytesIO as it arrives: ``response.read()`` keeps every chunk and
    joins them at the end, so a downloaded 67 MB packet was held twice at that moment. Past ``limit``
    bytes (announced or received) reading stops."""
    if response.content_length is not None and response.content_length > limit:
        raise AxisResponseTooLarge(f"{what}: the answer announces {response.content_length} bytes, over {limit}",
                                   limit=limit, status=response.status)
    buffer = io.BytesIO()
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise AxisResponseTooLarge(f"{what}: the answer is over {limit} bytes", limit=limit,
                                       status=response.status)
        buffer.write(chunk)
    return buffer.getvalue()  # hands the buffer over, no copy


async def _parts(body: tuple[bytes, ...]) -> AsyncIterator[bytes]:
    for part in body:
        for start in range(0, len(part), 1 << 20):  # memoryview slices: no copies
            yield memoryview(part)[start : start + (1 << 20)]  # type: ignore[misc]
