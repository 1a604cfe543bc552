"""Calling providers: a pooled aiohttp client, per-service timeouts, bounded retries, circuit breaking.

aiohttp's client is used because, measured on these machines as a proxy client, it is several times
faster than httpx under concurrency. Retries (tenacity, exponential backoff with jitter) apply only to
methods the service declares idempotent and only when the request body is replayable (buffered).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from multidict import CIMultiDict
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from yarl import URL

from lgsp.gateway.breaker import CircuitBreakers
from lgsp.gateway.exchange import Exchange
from lgsp.problems import Problem

RETRYABLE_STATUS = frozenset({502, 503, 504})


class _RetryableStatus(Exception):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        super().__init__(f"provider answered {response.status}")
        self.response = response


_RETRYABLE = (aiohttp.ClientConnectionError, TimeoutError, _RetryableStatus)

#: The headers aiohttp would invent for a request; a gateway forwards the caller's and adds none of these
#: (an Accept-Encoding of aiohttp's own would have providers compress replies the caller never asked for).
NO_AUTO_HEADERS = ("User-Agent", "Accept-Encoding", "Accept")


class ForwardedRequest(aiohttp.ClientRequest):
    """aiohttp's request, minus the per-call work of leaving its automatic headers out.

    With ``skip_auto_headers`` on the session, aiohttp rebuilds a skip multidict and copies the request's
    headers on every call only to conclude that it adds nothing: ~3 µs a call on the gateway's hot path
    (issue 14.1). Every automatic header is skipped here, so this adds nothing without the copies, and
    keeps the skip set aiohttp consults later (body payload headers) as it would have built it.
    """

    _SKIPPED: CIMultiDict[None] = CIMultiDict((name, None) for name in sorted(NO_AUTO_HEADERS))

    def update_auto_headers(self, skip_auto_headers: Any) -> None:
        self._skip_auto_headers = self._SKIPPED


def per_provider_limit(pool_size: int, per_provider: int) -> int:
    """Connections one provider (scheme, host and port) may hold: ``per_provider``, or a quarter of the pool.

    Without a share per provider, one that stops answering took the whole pool with the calls piling up on
    it, and every other service's calls waited for a free connection until that provider's timeouts fired."""
    pool = max(1, pool_size)
    return min(pool, per_provider) if per_provider > 0 else max(1, pool // 4)


class Upstream:
    def __init__(self, pool_size: int, breakers: CircuitBreakers, per_provider: int = 0) -> None:
        self.pool_size = max(1, pool_size)
        self.per_provider = per_provider_limit(pool_size, per_provider)
        self.breakers = breakers
        self.session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.pool_size, limit_per_host=self.per_provider, ttl_dns_cache=300,
                                         enable_cleanup_closed=True)
        self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                             skip_auto_headers=NO_AUTO_HEADERS, request_class=ForwardedRequest,
                                             cookie_jar=aiohttp.DummyCookieJar())

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def send(self, exchange: Exchange, headers: dict[str, str] | list[tuple[str, str]],
                   decompress: bool = False, soap: bool = False) -> aiohttp.ClientResponse:
        """Send the exchange's request; returns the provider's response (body not yet read).

        ``soap``: a 500 reply is not counted against the provider here; the caller reads the body and then
        calls :meth:`settle` (or :meth:`release`), whatever happens, or a half-open trial stays claimed.

        ``decompress`` is for replies the gateway reads itself (mediation): aiohttp then undoes a gzip or
        deflate Content-Encoding as the body is read, a bounded chunk at a time, so the caller's size limit
        applies to the decoded bytes. Passed-through replies keep their encoding (the caller decodes them).
        """
        assert self.session is not None and exchange.service is not None and exchange.request is not None
        service, request = exchange.service, exchange.request
        provider = service.base_url
        if not self.breakers.allow(provider):
            raise Problem("circuit-open", f"provider of {service.id} is failing; calls are paused",
                          headers={"Retry-After": str(self.breakers.retry_after(provider))})
        url = service.base_url + "/" + request.sub_path.lstrip("/")
        if request.query:
            url += "?" + request.query
        target = URL(url, encoded=True)
        timeout = self._timeouts.get(service.timeout_seconds)
        if timeout is None:  # one per distinct service timeout (ClientTimeout is immutable)
            # connect: the wait for a pooled connection plus the TCP connect, so a call queued behind its
            # provider's share of the pool is answered within the service's timeout too
            timeout = self._timeouts[service.timeout_seconds] = aiohttp.ClientTimeout(
                total=None, connect=service.timeout_seconds, sock_connect=service.timeout_seconds,
                sock_read=service.timeout_seconds)
        replayable = request.body_stream is None
        attempts = 1 + service.retry_attempts if (
            replayable and request.method in service.idempotent_methods) else 1

        session = self.session

        async def attempt() -> aiohttp.ClientResponse:
            exchange.attempts += 1
            data: Any = (request.body or None) if request.body_stream is None else request.body_stream
            # sock_read bounds the wait for the response head and between body chunks; no overall cap,
            # so a large but steadily flowing download is not cut off.
            response = await session.request(request.method, target, headers=headers, data=data, timeout=timeout,
                                             allow_redirects=False, auto_decompress=decompress)
            if response.status in RETRYABLE_STATUS and exchange.attempts < attempts:
                response.release()
                raise _RetryableStatus(response)
            return response

        try:
            try:
                response = await attempt()  # the common case pays nothing for the retry machinery
            except _RETRYABLE as first_failure:
                if attempts == 1:
                    raise
                response = await self._retry(attempt, attempts, service.retry_backoff_seconds, first_failure)
        except Exception as exc:
            if request.body_error is not None:  # the caller's body was at fault, not the provider
                self.breakers.release(provider)
                raise request.body_error from exc
            classified = self._classify(exc, exchange, provider)
            if classified is exc:  # not counted against the provider: give back a half-open trial it held
                self.breakers.release(provider)
            raise classified from exc
        except BaseException:  # cancelled (shutdown, a caller's deadline): the trial must not stay claimed,
            self.breakers.release(provider)  # or the circuit would refuse every call until a restart
            raise
        if soap and response.status == 500:
            pass  # a Fault: whose failure it is shows in the body, see settle()
        elif response.status >= 500:
            self.breakers.record_failure(provider)
        else:
            self.breakers.record_success(provider)
        return response

    def settle(self, exchange: Exchange, body: bytes | None) -> None:
        """Count a SOAP provider's HTTP 500 that ``send(..., soap=True)`` left open, once its body is read.

        SOAP 1.1 answers every Fault with 500, the caller's mistakes too: counted as the provider's failures,
        five schema-invalid envelopes from one caller opened the circuit, and every caller of the service got
        503 for the cool-down. A Client/Sender Fault shows the provider working; anything else (another
        Fault, no body, one too large to look at) is its failure, as before."""
        assert exchange.service is not None
        from lgsp.mediation.soapenv import is_caller_fault

        if is_caller_fault(body):
            self.breakers.record_success(exchange.service.base_url)
        else:
            self.breakers.record_failure(exchange.service.base_url)

    def release(self, exchange: Exchange) -> None:
        """Give back what ``send(..., soap=True)`` left open when the reply was never looked at (cancelled)."""
        assert exchange.service is not None
        self.breakers.release(exchange.service.base_url)

    @staticmethod
    async def _retry(attempt: Callable[[], Awaitable[aiohttp.ClientResponse]], attempts: int, backoff: float,
                     first_failure: BaseException) -> aiohttp.ClientResponse:
        """Attempts 2..n with exponential backoff and jitter (tenacity), after a retryable first failure."""
        await asyncio.sleep(backoff * random.random())  # jittered pause before the first retry
        async for trying in AsyncRetrying(
            stop=stop_after_attempt(attempts - 1),
            wait=wait_random_exponential(multiplier=backoff, max=max(backoff * 8, 0.001)),
            retry=retry_if_exception_type(_RETRYABLE),
            reraise=True,
        ):
            with trying:
                return await attempt()
        raise first_failure  # pragma: no cover - AsyncRetrying either returns or reraises

    def _classify(self, exc: Exception, exchange: Exchange, provider: str) -> Exception:
        """Map a failed call to the problem the caller gets, and count it against the provider."""
        assert exchange.service is not None
        service = exchange.service
        if isinstance(exc, Problem):
            return exc
        if not isinstance(exc, TimeoutError | aiohttp.ClientError):
            return exc
        self.breakers.record_failure(provider)
        if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
            return Problem("upstream-timeout",
                           f"provider of {service.id} did not answer within {service.timeout_seconds:g} s",
                           attempts=exchange.attempts)
        if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
            return Problem("upstream-unavailable", f"provider of {service.id} is unreachable: {exc}",
                           attempts=exchange.attempts)
        return Problem("upstream-bad-response", f"provider of {service.id} sent an invalid response: {exc}",
                       attempts=exchange.attempts)
