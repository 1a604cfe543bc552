"""The request-side stages of the gateway pipeline, in the order :func:`lgsp.gateway.pipeline.handle` runs
them: receive, authenticate, resolve, authorise, admit (traffic), size, read the body, verify signatures,
then the headers sent upstream. Each fills the :class:`Exchange` or raises a :class:`Problem`;
:func:`record` writes the audit entry.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lgsp.audit.fit import column_limit
from lgsp.auth.tokens import repeated_authorization
from lgsp.gateway import client_certs, mediate, signatures
from lgsp.gateway.deadlines import BODY_TIMED_OUT
from lgsp.gateway.exchange import Exchange, IncomingRequest
from lgsp.gateway.headers import REQUEST_DROP, connection_listed
from lgsp.gateway.paths import normalise_sub_path
from lgsp.problems import Problem
from lgsp.traffic.limiter import limits_for
from registry.ids import AGENCY_CODE_PATTERN

if TYPE_CHECKING:  # the runtime imports the pipeline
    from lgsp.runtime import Runtime

Scope = dict[str, Any]

Receive = Callable[[], Awaitable[dict[str, Any]]]

Send = Callable[[dict[str, Any]], Awaitable[None]]

PREFIX = "/services/"

_CHUNK = 64 * 1024

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

_AGENCY_RE = re.compile(AGENCY_CODE_PATTERN)


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
#: The audit entry's columns (lgsp.audit.models): a longer user id or path is refused here, with a
#: 400 naming it, rather than forwarded in full and recorded cut (lgsp.audit.fit keeps the log safe either way).
MAX_USER_ID = column_limit("user_id")
MAX_PATH = column_limit("path")


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


def _count(headers: list[tuple[bytes, bytes]], name: bytes) -> int:
    return sum(1 for key, _ in headers if key.lower() == name)


def _named(named: dict[bytes, bytes], name: bytes) -> str | None:
    value = named.get(name)
    return None if value is None else value.decode("latin-1")


def receive_request(exchange: Exchange, scope: Scope, named: dict[bytes, bytes] | None = None) -> None:
    """Parse the gateway path `/services/{agency}/{system}/{service}/{path}` and the headers.

    The sub-path is normalised here, once (`lgsp.gateway.paths`): grants are matched on that form and
    the provider receives exactly it, so no later stage sees the caller's raw spelling.
    """
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    parts = path[len(PREFIX):].split("/", 3)
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    named = index_headers(headers) if named is None else named
    length = named.get(b"content-length")
    exchange.request = IncomingRequest(
        method=scope["method"], path=_CONTROL_RE.sub(_escape, path), sub_path="",
        query=scope.get("query_string", b"").decode("latin-1"), headers=headers,
        content_length=int(length) if length and length.isdigit() else None, named=named,
    )
    if mediate.is_soap_content_type(named.get(b"content-type")):
        exchange.extra["soap_caller"] = True  # errors go back as SOAP Faults, in the caller's SOAP version
        exchange.extra["soap12"] = mediate.media_type(named.get(b"content-type")) == "application/soap+xml"
    exchange.user_id = _named(named, b"x-lgsp-user-id")
    if len(path) > MAX_PATH:
        raise Problem("invalid-path", f"the request path has {len(path)} characters; at most {MAX_PATH} are accepted")
    if exchange.user_id is not None and len(exchange.user_id) > MAX_USER_ID:
        raise Problem("bad-request", f"X-LGSP-User-Id has {len(exchange.user_id)} characters; "
                                     f"at most {MAX_USER_ID} are accepted")
    exchange.extra["transport"] = client_certs.transport_of(scope)
    if len(parts) < 3 or not all(parts[:3]):
        raise Problem("unknown-service", "gateway paths are /services/{agency}/{system}/{service}/{path}")
    exchange.service_id = "/".join(parts[:3])
    exchange.request.sub_path = normalise_sub_path(parts[3] if len(parts) > 3 else "")


def authenticate(exchange: Exchange, runtime: Runtime) -> None:
    request = exchange.request
    assert request is not None
    # fewer names than headers: some header came twice (rare); only then count the Authorization headers
    if len(request.named) < len(request.headers) and _count(request.headers, b"authorization") > 1:
        raise repeated_authorization()
    exchange.client = runtime.authenticate(_named(request.named, b"authorization"))
    transport = exchange.extra.get("transport") or client_certs.Transport(None)
    client_certs.check(exchange.client, transport, request.headers, runtime)


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


def body_cut_off(scope: Scope) -> Problem:
    """Why a request body ended in a disconnect: the client left, or lgsp's body deadline cut it off (408,
    already answered by the protocol, see :mod:`lgsp.gateway.deadlines`; the audit entry says the same)."""
    if scope.get(BODY_TIMED_OUT):
        return Problem("request-timeout", "the request body arrived too slowly and the connection was closed")
    return Problem("bad-request", "client disconnected while sending the body")


async def read_request_body(exchange: Exchange, runtime: Runtime, receive: Receive, limit: int,
                            scope: Scope) -> None:
    """Buffer small bodies (replayable for retries); stream large or unsized ones to the provider.

    Mediation and signature checks need the whole body, whether its size was announced or it arrives
    chunked; either way the limit is enforced on the bytes as they arrive (413), never trusted from a header.
    """
    request = exchange.request
    assert request is not None
    length = request.content_length
    chunked = "chunked" in (_named(request.named, b"transfer-encoding") or "").lower()
    if length is None and not chunked:  # HTTP/1.1: neither Content-Length nor chunked means no body
        request.body = b""
        request.body_sha256 = _EMPTY_SHA256
        return
    threshold = runtime.settings.buffer_response_bytes
    needs_whole = exchange.service is not None and (
        exchange.service.kind == "soap" or exchange.service.signature_policy != "off")
    if needs_whole or (length is not None and length <= threshold):
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise body_cut_off(scope)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise Problem("payload-too-large", f"request body exceeds the limit of {limit} bytes", limit=limit)
            chunks.append(chunk)
            more = message.get("more_body", False)
        request.body = b"".join(chunks)
        request.body_sha256 = hashlib.sha256(request.body).hexdigest()
        return

    digest = hashlib.sha256()

    async def stream() -> AsyncIterator[bytes]:
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                request.body_error = body_cut_off(scope)
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
