"""The gateway pipeline: receive -> authenticate -> resolve -> authorise -> verify -> deliver -> audit.

This file is meant to be read top to bottom to follow one request. Each stage is a small function
that fills the :class:`Exchange` or raises a :class:`Problem`; `handle` runs them in order and, whatever
happens, writes the audit entry *before* the caller receives the final byte of the response. Denied
calls are audited like any other.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from lgsp.gateway import client_certs, mediate, signatures
from lgsp.gateway.exchange import Exchange, IncomingRequest, UpstreamResponse
from lgsp.gateway.headers import REQUEST_DROP, RESPONSE_DROP, connection_listed, valid_message_id
from lgsp.gateway.paths import normalise_sub_path
from lgsp.gateway.xmlreply import declares_dtd, is_xml
from lgsp.mediation import soap_fault
from lgsp.problems import PROBLEM_CONTENT_TYPE, Problem
from lgsp.traffic.limiter import limits_for
from registry.ids import AGENCY_CODE_PATTERN

if TYPE_CHECKING:  # the runtime imports this module
    from lgsp.runtime import Runtime

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PREFIX = "/services/"
_CHUNK = 64 * 1024
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_AGENCY_RE = re.compile(AGENCY_CODE_PATTERN)


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _escape(match: re.Match[str]) -> str:
    """The audited path is the raw one, with control characters percent-encoded (no NUL reaches a store)."""
    return "%" + format(ord(match.group()), "02X")


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def index_headers(headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """First value of each header by lower-cased name, in one pass (later duplicates do not override)."""
    named: dict[bytes, bytes] = {}
    for key, value in headers:
        named.setdefault(key.lower(), value)
    return named


def _named(named: dict[bytes, bytes], name: bytes) -> str | None:
    value = named.get(name)
    return None if value is None else value.decode("latin-1")


# --- stages ----------------------------------------------------------------------------------------

def receive_request(exchange: Exchange, scope: Scope, named: dict[bytes, bytes] | None = None) -> None:
    """Parse the gateway path `/services/{agency}/{system}/{service}/{path}` and the headers.

    The sub-path is normalised here, once (`lgsp.gateway.paths`): grants are matched on that form and
    the provider receives exactly it, so no later stage sees the caller's raw spelling.
    """
    raw_path = scope.get("raw_path") or scope["path"].encode()
    rest = raw_path.decode("latin-1")[len(PREFIX):]
    parts = rest.split("/", 3)
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    named = index_headers(headers) if named is None else named
    length = _named(named, b"content-length")
    exchange.request = IncomingRequest(
        method=scope["method"], path=_CONTROL_RE.sub(_escape, raw_path.decode("latin-1")), sub_path="",
        query=scope.get("query_string", b"").decode("latin-1"), headers=headers,
        content_length=int(length) if length and length.isdigit() else None, named=named,
    )
    exchange.user_id = _named(named, b"x-lgsp-user-id")
    exchange.extra["transport"] = client_certs.transport_of(scope)
    if mediate.is_soap_request(headers):
        exchange.extra["soap_caller"] = True  # errors go back as SOAP Faults
    if len(parts) < 3 or not all(parts[:3]):
        raise Problem("unknown-service", "gateway paths are /services/{agency}/{system}/{service}/{path}")
    exchange.service_id = "/".join(parts[:3])
    exchange.request.sub_path = normalise_sub_path(parts[3] if len(parts) > 3 else "")


def authenticate(exchange: Exchange, runtime: Runtime) -> None:
    assert exchange.request is not None
    exchange.client = runtime.authenticate(_named(exchange.request.named, b"authorization"))
    transport = exchange.extra.get("transport") or client_certs.Transport(None)
    client_certs.check(exchange.client, transport, exchange.request.headers, runtime)


def resolve_service(exchange: Exchange, runtime: Runtime) -> None:
    assert exchange.service_id is not None
    snapshot = runtime.registry.current()
    service = snapshot.services.get(exchange.service_id)
    if service is None:
        agency = exchange.service_id.split("/", 1)[0]
        if not _AGENCY_RE.match(agency):
            raise Problem("unknown-agency", f"{agency!r} is not an agency code (NNN.NN.NN.XNN)")
        if agency not in snapshot.agencies:
            raise Problem("unknown-agency", f"agency {agency} is not registered")
        raise Problem("unknown-service", f"service {exchange.service_id} is not registered")
    exchange.service = service


def authorise(exchange: Exchange, runtime: Runtime) -> None:
    """Deny by default: the caller's system needs a grant matching the method and path."""
    assert exchange.client is not None and exchange.service is not None and exchange.request is not None
    client = exchange.client
    if "gateway" not in client.scopes or client.system_id is None:
        raise Problem("forbidden", "this client may not call services (it needs the 'gateway' scope)")
    method, path = exchange.request.method, exchange.request.sub_path
    if not runtime.registry.current().is_granted(client.system_id, exchange.service.id, method, path):
        raise Problem("forbidden", f"{client.system_id} has no grant for {method} /{path} on {exchange.service.id}")


async def admit_traffic(exchange: Exchange, runtime: Runtime) -> None:
    """Rate, quota and concurrency limits of this route (lgsp.traffic); most routes have none."""
    assert exchange.client is not None and exchange.service is not None
    limits = runtime.registry.current().limits
    if not limits:
        return
    client_system = exchange.client.system_id or exchange.client.client_id
    found = limits_for(limits, client_system, exchange.service.id)
    if found:
        service = exchange.service
        slot_ttl = service.timeout_seconds * (service.retry_attempts + 1)
        exchange.traffic = await runtime.traffic.admit(found, client_system, service.id, slot_ttl)


async def record(exchange: Exchange, runtime: Runtime) -> int:
    """Audit the exchange; the provider's part is over by now, so its concurrency slots go back first
    (before the caller's last byte, so a caller that sends its next call at once finds the slot free)."""
    if exchange.traffic is not None and exchange.traffic.held:
        await runtime.traffic.release(exchange.traffic)
    return await runtime.record(exchange)


def _traffic_headers(exchange: Exchange) -> list[tuple[bytes, bytes]]:
    return exchange.traffic.headers if exchange.traffic is not None else []


def check_body_size(exchange: Exchange, runtime: Runtime) -> int:
    assert exchange.request is not None and exchange.service is not None
    limit = exchange.service.max_body_bytes or runtime.settings.max_body_bytes
    length = exchange.request.content_length
    if length is not None and length > limit:
        raise Problem("payload-too-large", f"request body of {length} bytes exceeds the limit of {limit} bytes",
                      limit=limit)
    return limit


async def read_request_body(exchange: Exchange, runtime: Runtime, receive: Receive, limit: int) -> None:
    """Buffer small bodies (replayable for retries); stream large or unsized ones to the provider.

    Mediation and signature checks need the whole body, whether its size was announced or it arrives
    chunked; either way the limit is enforced on the bytes as they arrive (413), never trusted from a header.
    """
    request = exchange.request
    assert request is not None
    digest = hashlib.sha256()
    length = request.content_length
    threshold = runtime.settings.buffer_response_bytes
    chunked = "chunked" in (_named(request.named, b"transfer-encoding") or "").lower()
    needs_whole = exchange.service is not None and (
        exchange.service.kind == "soap" or exchange.service.signature_policy != "off")
    if length is None and not chunked:  # HTTP/1.1: neither Content-Length nor chunked means no body
        request.body = b""
        request.body_sha256 = _EMPTY_SHA256
        return
    if needs_whole or (length is not None and length <= threshold):
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Problem("bad-request", "client disconnected while sending the body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise Problem("payload-too-large", f"request body exceeds the limit of {limit} bytes", limit=limit)
            chunks.append(chunk)
            more = message.get("more_body", False)
        request.body = b"".join(chunks)
        request.body_sha256 = hashlib.sha256(request.body).hexdigest()
        return

    async def stream() -> AsyncIterator[bytes]:
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                request.body_error = Problem("bad-request", "client disconnected while sending the body")
                raise request.body_error
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                request.body_error = Problem("payload-too-large", f"request body exceeds the limit of {limit} bytes",
                                             limit=limit)
                raise request.body_error
            digest.update(chunk)
            if chunk:
                yield chunk
            more = message.get("more_body", False)
        request.body_sha256 = digest.hexdigest()

    request.body_stream = stream()


async def verify_signatures(exchange: Exchange, runtime: Runtime) -> None:
    """Per-service signature policy (off | report | require); the verifier is plugged in by the app."""
    service = exchange.service
    if service is None or service.signature_policy == "off":
        return
    if runtime.signature_check is None:
        signatures.no_verifier(exchange)
        return
    await runtime.signature_check(exchange)


def upstream_headers(exchange: Exchange) -> list[tuple[str, str]]:
    """The client's headers minus hop-by-hop and lgsp-only ones, plus lgsp's identity headers."""
    assert exchange.request is not None and exchange.client is not None
    drop = REQUEST_DROP | connection_listed(exchange.request.headers) if b"connection" in exchange.request.named \
        else REQUEST_DROP
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in exchange.request.headers
               if k.lower() not in drop]
    headers.append(("X-LGSP-Message-Id", exchange.message_id))
    headers.append(("X-Correlation-Id", exchange.correlation_id))
    headers.append(("X-LGSP-Client", exchange.client.principal))
    if exchange.user_id:
        headers.append(("X-LGSP-User-Id", exchange.user_id))
    return headers


# --- the journey ---------------------------------------------------------------------------------

async def handle(scope: Scope, receive: Receive, send: Send, runtime: Runtime) -> None:
    """ASGI entry for `/services/...`: run the stages, audit, answer."""
    named = index_headers(scope["headers"])
    message_id = valid_message_id(_named(named, b"x-lgsp-message-id"))
    exchange = Exchange(message_id=message_id,
                        correlation_id=(_named(named, b"x-correlation-id") or message_id)[:128],
                        received_at=datetime.now(UTC))
    upstream: aiohttp.ClientResponse | None = None
    try:
        receive_request(exchange, scope, named)
        authenticate(exchange, runtime)
        resolve_service(exchange, runtime)
        authorise(exchange, runtime)
        await admit_traffic(exchange, runtime)
        limit = check_body_size(exchange, runtime)
        await read_request_body(exchange, runtime, receive, limit)
        await verify_signatures(exchange, runtime)
        if exchange.service is not None and exchange.service.kind == "soap":
            upstream = await deliver_soap(exchange, runtime, send)
        else:
            upstream = await runtime.upstream.send(exchange, upstream_headers(exchange))
            await deliver_response(exchange, runtime, upstream, send)
    except Problem as problem:
        exchange.problem = problem
        await send_problem(exchange, runtime, send)
    except Exception as exc:  # a bug or the store failing: never leave the caller hanging
        runtime.log.exception("exchange failed", message_id=exchange.message_id)
        exchange.problem = Problem("internal-error",
                                   f"the gateway failed to complete the exchange: {type(exc).__name__}")
        if not exchange.extra.get("response_started"):
            await send_problem(exchange, runtime, send, audit=not exchange.extra.get("audited"))
    finally:
        if upstream is not None:
            upstream.release()
        if exchange.traffic is not None:
            await runtime.traffic.release(exchange.traffic)
        runtime.observe(exchange)


async def deliver_response(exchange: Exchange, runtime: Runtime, upstream: aiohttp.ClientResponse,
                           send: Send) -> None:
    """Pass the provider's answer on; the audit row is durable before the caller gets the last byte."""
    raw_headers = upstream.raw_headers
    listed = connection_listed(raw_headers)
    drop = RESPONSE_DROP | listed if listed else RESPONSE_DROP
    headers = [(k.lower(), v) for k, v in raw_headers if k.lower() not in drop]
    headers += _traffic_headers(exchange)
    threshold = runtime.settings.buffer_response_bytes
    digest = hashlib.sha256()
    buffered: list[bytes] = []
    size = 0
    streaming = False
    soap = exchange.service is not None and exchange.service.kind == "soap"
    check_dtd = not runtime.settings.upstream_xml_allow_dtd and (is_xml(upstream.headers.get("Content-Type")) or soap)
    try:
        async for chunk in upstream.content.iter_chunked(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if not streaming and size > threshold:
                if check_dtd:
                    refuse_dtd(exchange, b"".join([*buffered, chunk]))
                streaming = True  # too large to hold: start sending, hold back only the end
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
            raise
        kind = "upstream-timeout" if isinstance(exc, TimeoutError) else "upstream-bad-response"
        raise Problem(kind, f"provider of {exchange.service_id} failed while sending its body: {exc}") from exc
    body = b"".join(buffered)
    if check_dtd and not streaming:
        refuse_dtd(exchange, body)
    exchange.response = UpstreamResponse(upstream.status, headers, None if streaming else body, digest.hexdigest())
    index = await record(exchange, runtime)
    if streaming:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    headers += [
        (b"content-length", str(len(body)).encode()),
        (b"x-lgsp-message-id", exchange.message_id.encode()),
        (b"x-lgsp-audit-index", str(index).encode()),
    ]
    await send({"type": "http.response.start", "status": upstream.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def refuse_dtd(exchange: Exchange, head: bytes) -> None:
    """A provider's XML reply with a DOCTYPE never reaches the caller (XXE / entity expansion on their side)."""
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
    if exchange.extra.get("soap_caller"):
        mediate.prepare_passthrough(exchange, runtime)
        upstream = await runtime.upstream.send(exchange, upstream_headers(exchange))
        await deliver_response(exchange, runtime, upstream, send)
        return upstream
    operation = await mediate.prepare_json_call(exchange, runtime, service)
    upstream = await runtime.upstream.send(exchange, upstream_headers(exchange))
    limit = exchange.service.max_body_bytes if exchange.service and exchange.service.max_body_bytes else (
        runtime.settings.max_body_bytes)
    try:
        body = await _read_upto(upstream.content, limit + 1)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Problem("upstream-bad-response", f"provider of {exchange.service_id} failed mid-reply: {exc}") from exc
    if len(body) > limit:
        raise Problem("upstream-bad-response", f"the SOAP reply exceeds {limit} bytes")
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
        except Exception:
            runtime.log.exception("audit write failed", message_id=exchange.message_id)
            problem = Problem("internal-error", "the exchange could not be recorded in the audit log")
            exchange.problem = problem
            body, content_type = render_problem(exchange, problem)
            headers = [(b"content-type", content_type),
                       (b"content-length", str(len(body)).encode()),
                       (b"x-lgsp-message-id", exchange.message_id.encode())]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
