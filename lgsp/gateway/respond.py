"""The answer side of the gateway pipeline: pass the provider's reply on (buffered or streamed, DTDs
refused), the SOAP mediation stage, and problem answers; every path writes the audit row before the
caller gets the last byte.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

import aiohttp

from lgsp.gateway import mediate
from lgsp.gateway.exchange import Exchange, UpstreamResponse
from lgsp.gateway.headers import RESPONSE_DROP, connection_listed
from lgsp.gateway.stages import _CHUNK, Send, _traffic_headers, record, upstream_headers
from lgsp.gateway.xmlreply import declares_dtd, decoded_head, is_xml
from lgsp.mediation import soap_fault
from lgsp.problems import PROBLEM_CONTENT_TYPE, Problem

if TYPE_CHECKING:  # the runtime imports the pipeline
    from lgsp.runtime import Runtime


async def deliver_response(exchange: Exchange, runtime: Runtime, upstream: aiohttp.ClientResponse,
                           send: Send) -> None:
    """Pass the provider's answer on; the audit row is durable before the caller gets the last byte."""
    headers = forwarded_response_headers(upstream)
    headers += _traffic_headers(exchange)
    threshold = runtime.settings.buffer_response_bytes
    soap = exchange.service is not None and exchange.service.kind == "soap"
    check_dtd = not runtime.settings.upstream_xml_allow_dtd and (is_xml(upstream.headers.get("Content-Type")) or soap)
    if declared_small(upstream, threshold):
        content = upstream.content
        try:
            if content.is_eof():  # the usual small reply came with its head: no wait, so no timer (issue 14.1)
                body = await content.read()
            else:
                async with asyncio.timeout(_body_seconds(exchange)):
                    body = await content.read()
        except TimeoutError as exc:
            raise _body_timeout(exchange) from exc
        except aiohttp.ClientError as exc:
            raise Problem("upstream-bad-response",
                          f"provider of {exchange.service_id} failed while sending its body: {exc}") from exc
        await _send_whole(exchange, runtime, upstream, send, headers, body, check_dtd)
        return
    await _relay_chunked(exchange, runtime, upstream, send, headers, threshold, check_dtd)


class StreamCut(Exception):
    """The provider failed after the caller got the head and part of the body: nothing can be answered any
    more. The audit entry is written (``truncated``); the pipeline logs one line and lets the connection
    close, so the caller sees a cut chunked body, not a complete one."""


def _body_seconds(exchange: Exchange) -> float:
    """How long the part of a reply the gateway holds (before the caller gets anything) may take to arrive.

    aiohttp's ``sock_read`` bounds each wait between two chunks, so a provider dripping a byte a second never
    tripped it: the caller waited without end (and a concurrency slot, sized timeout x attempts, expired under
    a call still running). The service's timeout now also bounds the buffered body as a whole.
    """
    return exchange.service.timeout_seconds if exchange.service is not None else 30.0


def _body_timeout(exchange: Exchange) -> Problem:
    return Problem("upstream-timeout", f"provider of {exchange.service_id} did not send its whole reply within "
                   f"{_body_seconds(exchange):g} s", attempts=exchange.attempts)


def forwarded_response_headers(upstream: aiohttp.ClientResponse) -> list[tuple[bytes, bytes]]:
    """The provider's headers minus hop-by-hop ones (and those a `Connection` header lists), names lower-cased.

    Each name is lowered once, and the `Connection` scan runs only when the reply has one (looked up in
    aiohttp's parsed headers, a C dict): both were per-call costs on the hot path (issue 14.1).
    """
    raw_headers = upstream.raw_headers
    drop = RESPONSE_DROP | connection_listed(raw_headers) if "Connection" in upstream.headers else RESPONSE_DROP
    return [(name, value) for key, value in raw_headers if (name := key.lower()) not in drop]


async def _relay_chunked(exchange: Exchange, runtime: Runtime, upstream: aiohttp.ClientResponse, send: Send,
                         headers: list[tuple[bytes, bytes]], threshold: int, check_dtd: bool) -> None:
    """A reply without a small declared length: buffered up to ``threshold``, streamed beyond it, with the
    audit row committed before the final (empty) body message either way."""
    digest = hashlib.sha256()
    buffered: list[bytes] = []
    size = 0
    streaming = False
    deadline = asyncio.timeout(_body_seconds(exchange))
    try:
        async with deadline:
            async for chunk in upstream.content.iter_chunked(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if not streaming and size > threshold:
                    if check_dtd:
                        refuse_dtd(exchange, b"".join([*buffered, chunk]), upstream.headers.get("Content-Encoding"))
                    streaming = True  # too large to hold: start sending, hold back only the end
                    deadline.reschedule(None)  # the caller now sees progress; sock_read bounds each wait
                    exchange.extra["response_started"] = True
                    await send({"type": "http.response.start", "status": upstream.status,
                                "headers": [*headers, (b"x-lgsp-message-id", exchange.message_id.encode())]})
                    for held in buffered:
                        await send({"type": "http.response.body", "body": held, "more_body": True})
                    buffered = []
                if streaming:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                else:
                    buffered.append(chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        if streaming:
            exchange.response = UpstreamResponse(upstream.status, headers, None, digest.hexdigest())
            exchange.extra["truncated"] = True
            await record(exchange, runtime)
            raise StreamCut(f"provider of {exchange.service_id} failed after {size} bytes of its reply had been "
                            f"passed on: {type(exc).__name__}: {exc}") from exc
        if isinstance(exc, TimeoutError):
            raise _body_timeout(exchange) from exc
        raise Problem("upstream-bad-response",
                      f"provider of {exchange.service_id} failed while sending its body: {exc}") from exc
    if not streaming:
        await _send_whole(exchange, runtime, upstream, send, headers, b"".join(buffered), check_dtd)
        return
    exchange.response = UpstreamResponse(upstream.status, headers, None, digest.hexdigest())
    await record(exchange, runtime)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def declared_small(upstream: aiohttp.ClientResponse, threshold: int) -> bool:
    """Whether the reply declares a Content-Length within the buffering threshold (and is not chunked).

    Such a body is read in one call instead of chunk by chunk through an async iterator, which was a
    measurable share of a small call's CPU (issue 14.1). The parser stops at the declared length, so the
    read is bounded exactly as the chunked loop is; larger or undeclared bodies keep the streaming path.
    """
    length = upstream.content_length
    return length is not None and 0 <= length <= threshold and "chunked" not in upstream.headers.get(
        "Transfer-Encoding", "").lower()


async def _send_whole(exchange: Exchange, runtime: Runtime, upstream: aiohttp.ClientResponse, send: Send,
                      headers: list[tuple[bytes, bytes]], body: bytes, check_dtd: bool) -> None:
    """A buffered reply: DTD check, audit row committed, then the whole answer with its audit index."""
    if check_dtd:
        refuse_dtd(exchange, body, upstream.headers.get("Content-Encoding"))
    exchange.response = UpstreamResponse(upstream.status, headers, body, hashlib.sha256(body).hexdigest())
    index = await record(exchange, runtime)
    headers += [
        (b"content-length", str(len(body)).encode()),
        (b"x-lgsp-message-id", exchange.message_id.encode()),
        (b"x-lgsp-audit-index", str(index).encode()),
    ]
    await send({"type": "http.response.start", "status": upstream.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def refuse_dtd(exchange: Exchange, head: bytes, encoding: str | None = None) -> None:
    """A provider's XML reply with a DOCTYPE never reaches the caller (XXE / entity expansion on their side).

    A compressed reply is looked at decoded (its first 64 KiB): passed on as it came, a gzipped DOCTYPE went
    through unseen. An encoding lgsp cannot decode here (``br``, ``zstd``) cannot be checked, so it is refused.
    """
    try:
        head = decoded_head(head, encoding)
    except ValueError as exc:
        raise Problem("upstream-bad-response", f"the provider of {exchange.service_id} answered XML that lgsp cannot "
                      f"check for a document type declaration: {exc}") from None
    if declares_dtd(head):
        raise Problem("upstream-bad-response", f"the provider of {exchange.service_id} answered XML with a document "
                      "type declaration (DTD), which lgsp does not pass on")


async def deliver_soap(exchange: Exchange, runtime: Runtime, send: Send) -> aiohttp.ClientResponse | None:
    """The mediation stage for `kind: soap` services (see `lgsp.gateway.mediate`)."""
    assert exchange.request is not None
    service = mediate.soap_service(exchange, runtime)
    described = await mediate.describe(exchange, runtime, service)
    if described is not None:
        exchange.response = UpstreamResponse(200, mediate.JSON_HEADERS, described,
                                             hashlib.sha256(described).hexdigest())
        await send_buffered(exchange, runtime, send, 200, list(mediate.JSON_HEADERS), described)
        return None
    coding = (exchange.request.named.get(b"content-encoding") or b"identity").strip().lower()
    if coding != b"identity":
        # lgsp reads the body (to mediate it, or to set the X-Road headers in it): a compressed one was
        # refused as "malformed XML" / "not valid JSON", and a plain one still labelled gzip went on so
        raise Problem("unsupported-media-type", f"Content-Encoding {coding.decode('latin-1')[:50]!r} is not "
                      "accepted for SOAP services: send the body uncompressed")
    if exchange.extra.get("soap_caller"):
        mediate.prepare_passthrough(exchange, runtime, service)
        upstream = await runtime.upstream.send(exchange, upstream_headers(exchange), soap=True)
        if upstream.status != 500:
            await deliver_response(exchange, runtime, upstream, send)
            return upstream
        try:  # a 500: a Fault blaming the caller must not count against the provider (Upstream.settle)
            await deliver_response(exchange, runtime, upstream, send)
        except Exception:
            runtime.upstream.settle(exchange, None)  # the reply failed on its way: the provider's failure
            raise
        except BaseException:
            runtime.upstream.release(exchange)
            raise
        runtime.upstream.settle(exchange, exchange.response.body if exchange.response is not None else None)
        return upstream
    if mediate.media_type(exchange.request.named.get(b"content-type")) == "multipart/related":
        raise Problem("unsupported-media-type", "MTOM/XOP (multipart/related) is not supported: send the SOAP "
                      "envelope with its attachments inline (base64) as text/xml or application/soap+xml")
    operation = await mediate.prepare_json_call(exchange, runtime, service)
    # The gateway reads this reply itself, so a gzip/deflate body is decoded (as it is read, bounded by the
    # limit below); the provider is asked for none (prepare_json_call), but some compress regardless.
    upstream = await runtime.upstream.send(exchange, upstream_headers(exchange), decompress=True, soap=True)
    limit = exchange.service.max_body_bytes if exchange.service and exchange.service.max_body_bytes else (
        runtime.settings.max_body_bytes)
    try:
        async with asyncio.timeout(_body_seconds(exchange)):
            body = await _read_upto(upstream.content, limit + 1)
    except TimeoutError as exc:
        if upstream.status == 500:
            runtime.upstream.settle(exchange, None)
        raise _body_timeout(exchange) from exc
    except aiohttp.ClientError as exc:
        if upstream.status == 500:
            runtime.upstream.settle(exchange, None)
        raise Problem("upstream-bad-response", f"provider of {exchange.service_id} failed mid-reply: {exc}") from exc
    except BaseException:
        if upstream.status == 500:
            runtime.upstream.release(exchange)
        raise
    if upstream.status == 500:
        runtime.upstream.settle(exchange, body if len(body) <= limit else None)
    if len(body) > limit:
        encoding = upstream.headers.get("Content-Encoding")
        raise Problem("upstream-bad-response", f"the SOAP reply exceeds {limit} bytes"
                      + (f" once decoded (Content-Encoding: {encoding})" if encoding else ""))
    payload = await mediate.json_reply(exchange, service, operation, upstream.status,
                                       upstream.headers.get("Content-Type"), body)
    await send_buffered(exchange, runtime, send, 200, list(mediate.JSON_HEADERS), payload)
    return upstream


async def _read_upto(content: aiohttp.StreamReader, size: int) -> bytes:
    """Up to ``size`` bytes of a reply. ``StreamReader.read(n)`` returns what is buffered (one chunk,
    often 64-128 KiB), not ``n`` bytes, so a larger SOAP reply was cut and then refused as malformed."""
    chunks: list[bytes] = []
    total = 0
    while total < size:
        chunk = await content.read(size - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


async def send_buffered(exchange: Exchange, runtime: Runtime, send: Send, status: int,
                        headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    index = await record(exchange, runtime)
    headers += [(b"content-length", str(len(body)).encode()), (b"x-lgsp-message-id", exchange.message_id.encode()),
                (b"x-lgsp-audit-index", str(index).encode()), *_traffic_headers(exchange)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def render_problem(exchange: Exchange, problem: Problem) -> tuple[bytes, bytes]:
    """Problem details as JSON, or as a SOAP Fault carrying the same kind for SOAP callers."""
    if exchange.extra.get("soap_caller"):
        # A SOAP 1.2 caller cannot read a 1.1 Fault (its stack answers VersionMismatch): it gets a 1.2 one.
        if exchange.extra.get("soap12"):
            return (soap_fault(problem.kind, problem.status, problem.detail, soap12=True),
                    b"application/soap+xml; charset=utf-8")
        return soap_fault(problem.kind, problem.status, problem.detail), b"text/xml; charset=utf-8"
    return problem.body(instance=f"urn:lgsp:message:{exchange.message_id}"), PROBLEM_CONTENT_TYPE.encode()


async def send_problem(exchange: Exchange, runtime: Runtime, send: Send, audit: bool = True) -> None:
    assert exchange.problem is not None
    problem = exchange.problem
    body, content_type = render_problem(exchange, problem)
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
               (b"x-lgsp-message-id", exchange.message_id.encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
    if exchange.traffic is not None:  # an admitted call that failed later still tells what is left
        headers += exchange.traffic.headers
    if audit:
        try:
            index = await record(exchange, runtime)
            headers.append((b"x-lgsp-audit-index", str(index).encode()))
        except Exception as exc:
            if isinstance(exc, Problem):  # the store did not take the entry (logged once, by the runtime)
                problem = exc
            else:
                runtime.log.exception("audit write failed", message_id=exchange.message_id)
                problem = Problem("internal-error", "the exchange could not be recorded in the audit log")
            exchange.problem = problem
            body, content_type = render_problem(exchange, problem)
            headers = [(b"content-type", content_type),
                       (b"content-length", str(len(body)).encode()),
                       (b"x-lgsp-message-id", exchange.message_id.encode()),
                       *[(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
