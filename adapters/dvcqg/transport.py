"""The one seam between the DVCQG client and the network.

The client only ever calls :meth:`Transport.post_json`; everything about sockets, timeouts and
connection failures lives here and is translated into :class:`DvcqgUnavailableError` (retryable), so the
client's protocol logic never sees an aiohttp exception and another transport (a recording proxy, a
different HTTP library) can be swapped in without touching it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from .errors import DvcqgUnavailableError


@dataclass(frozen=True)
class HttpReply:
    """What came back: status, body bytes and content type (parsing is the client's job)."""

    status: int
    body: bytes
    content_type: str = ""


class Transport(Protocol):
    """POST a JSON object and return the raw reply; raise :class:`DvcqgUnavailableError` if unreachable."""

    async def post_json(
        self, url: str, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> HttpReply: ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """:class:`Transport` on one pooled ``aiohttp.ClientSession`` created on first use.

    ``timeout`` bounds the whole request (connect + send + read); the portal is a national service that
    sometimes hangs, and an outbox worker must get its slot back.
    """

    def __init__(self, *, timeout: float = 30.0, max_body_bytes: int = 16 * 1024 * 1024) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_body = max_body_bytes
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def post_json(
        self, url: str, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> HttpReply:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        send_headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        send_headers.update(headers or {})
        try:
            # Not followed: a 307/308 would resend the body (the login's username and password among them)
            # to whatever host the answer names; a 3xx is left to the client as an unexpected status.
            async with self._get_session().post(url, data=body, headers=send_headers,
                                                allow_redirects=False) as response:
                data = await _read_upto(response.content, self._max_body + 1)
                if len(data) > self._max_body:
                    raise DvcqgUnavailableError(
                        f"DVCQG reply from {url} exceeds {self._max_body} bytes", status=response.status
                    )
                return HttpReply(response.status, data, response.headers.get("Content-Type", ""))
        except TimeoutError:
            raise DvcqgUnavailableError(f"DVCQG did not answer within {self._timeout.total} s ({url})") from None
        except aiohttp.ClientError as exc:
            raise DvcqgUnavailableError(f"DVCQG unreachable at {url}: {exc}") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read_upto(content: aiohttp.StreamReader, size: int) -> bytes:
    """Up to ``size`` bytes of a reply. ``StreamReader.read(n)`` returns what is buffered (one chunk), not
    ``n`` bytes, so a reply larger than a chunk or two was cut and then failed as invalid JSON."""
    chunks: list[bytes] = []
    total = 0
    while total < size:
        chunk = await content.read(size - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)
