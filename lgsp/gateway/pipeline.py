"""The gateway pipeline: receive -> authenticate -> resolve -> authorise -> verify -> deliver -> audit.

`handle` below is the whole journey of one request, read top to bottom. Each stage is a small function
that fills the :class:`Exchange` or raises a :class:`Problem`; the request-side stages are in
`lgsp.gateway.stages` (in the order `handle` runs them), the answer side in `lgsp.gateway.respond`.
Whatever happens, the audit entry is written *before* the caller receives the final byte of the
response. Denied calls are audited like any other. (The stages are plain module-level functions
imported here, so the split costs the per-request path no extra indirection.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp

from lgsp.gateway.exchange import Exchange
from lgsp.gateway.headers import valid_message_id
from lgsp.gateway.respond import (
    StreamCut,
    deliver_response,
    deliver_soap,
    refuse_dtd,
    render_problem,
    send_buffered,
    send_problem,
)
from lgsp.gateway.stages import (
    PREFIX,
    Receive,
    Scope,
    Send,
    _named,
    admit_traffic,
    authenticate,
    authorise,
    check_body_size,
    index_headers,
    read_request_body,
    receive_request,
    record,
    resolve_service,
    upstream_headers,
    verify_signatures,
)
from lgsp.problems import Problem

__all__ = [
    "PREFIX",
    "Receive",
    "Scope",
    "Send",
    "admit_traffic",
    "authenticate",
    "authorise",
    "check_body_size",
    "deliver_response",
    "deliver_soap",
    "handle",
    "index_headers",
    "read_request_body",
    "receive_request",
    "record",
    "refuse_dtd",
    "render_problem",
    "resolve_service",
    "send_buffered",
    "send_problem",
    "upstream_headers",
    "verify_signatures",
]

if TYPE_CHECKING:  # the runtime imports this module
    from lgsp.runtime import Runtime


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
        await read_request_body(exchange, runtime, receive, limit, scope)
        await verify_signatures(exchange, runtime)
        if exchange.service is not None and exchange.service.kind == "soap":
            upstream = await deliver_soap(exchange, runtime, send)
        else:
            upstream = await runtime.upstream.send(exchange, upstream_headers(exchange))
            await deliver_response(exchange, runtime, upstream, send)
    except Problem as problem:
        exchange.problem = problem
        if exchange.extra.get("response_started"):  # a streamed reply's audit failed at its end: cut it
            runtime.log.warning("streamed reply cut: its audit entry could not be written",
                                message_id=exchange.message_id, service=exchange.service_id, problem=problem.kind)
        else:
            await send_problem(exchange, runtime, send)
    except StreamCut as cut:  # audited already; the caller's connection closes on a cut body
        runtime.log.warning("provider reply cut mid-stream", message_id=exchange.message_id,
                            service=exchange.service_id, reason=str(cut))
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
