"""The mediation stage: SOAP providers called as REST/JSON, or by SOAP clients passed through.

For a service registered with `kind: soap` and a WSDL under `schemas/`, the gateway offers:
- `POST .../{operation}` with a JSON body -> a SOAP request built from the WSDL (zeep, via
  `lgsp.mediation`), sent with the same pooled client, retries and breaker as REST calls; the SOAP reply
  comes back as JSON (types preserved) and a Fault as a `soap-fault` problem;
- `GET .../{operation}/schema` -> JSON Schemas of the operation's input and output;
- `GET .../openapi.json` -> an OpenAPI document for the whole service;
- `POST ...` with a SOAP envelope (`text/xml` / `application/soap+xml`) -> forwarded unchanged apart from
  the X-Road headers lgsp sets from the caller's identity (pass-through); errors go back as SOAP Faults.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from lgsp.gateway.exchange import Exchange, UpstreamResponse
from lgsp.mediation import (
    MediationError,
    XRoadClient,
    XRoadHeaders,
    XRoadService,
    apply_xroad_headers,
    read_passthrough,
)
from lgsp.mediation.soapenv import SOAP11_NS, SOAP12_NS
from lgsp.problems import Problem
from lgsp.safexml import UnsafeXmlError, XmlLimitExceeded, XmlLimits, prescan
from lgsp.xml_limits import entry_limits
from registry.inputs import confined_wsdl

if TYPE_CHECKING:
    from lgsp.mediation import SoapService
    from lgsp.runtime import Runtime

SOAP_TYPES = ("text/xml", "application/soap+xml")
JSON_HEADERS = [(b"content-type", b"application/json")]


def soap_service(exchange: Exchange, runtime: Runtime) -> SoapService:
    assert exchange.service is not None
    if not exchange.service.wsdl_path:
        raise Problem("not-configured", f"service {exchange.service.id} has no WSDL registered")
    # Confined again at use time (the stored path may predate the write-time check, or the database may
    # have been edited), and the reason a WSDL fails is logged, never sent: it names server files.
    path = confined_wsdl(exchange.service.wsdl_path, Path(runtime.settings.schemas_dir))
    if path is None:
        runtime.log.error("WSDL path outside the schemas directory", service=exchange.service.id)
        raise Problem("not-configured", f"the WSDL of {exchange.service.id} cannot be used")
    from lgsp.mediation import SoapService  # zeep and xmlschema: with the first SOAP service, not at start

    try:
        return SoapService.from_wsdl(path)
    except MediationError as exc:
        runtime.log.error("WSDL unusable", service=exchange.service.id, reason=exc.detail)
        raise Problem("not-configured", f"the WSDL of {exchange.service.id} cannot be used") from exc


def xroad_headers(exchange: Exchange, runtime: Runtime, operation: str) -> XRoadHeaders:
    """X-Road v4 headers from the caller's identity: member = agency code, subsystem = system code."""
    assert exchange.client is not None and exchange.service is not None
    settings = runtime.settings
    agency, system = (exchange.client.system_id or "/").split("/", 1)
    service = exchange.service
    return XRoadHeaders(
        client=XRoadClient(settings.xroad_instance, settings.xroad_member_class, agency, system),
        service=XRoadService(settings.xroad_instance, settings.xroad_member_class, service.agency,
                             service.system.split("/", 1)[1], operation),
        id=exchange.message_id, user_id=exchange.user_id,
    )


def as_problem(error: MediationError) -> Problem:
    return Problem(error.kind if error.kind in _KINDS else "upstream-bad-response", error.detail,
                   status=error.http_status, **error.problem_extensions())


_KINDS = {"mediation-input-invalid", "unknown-operation", "soap-fault", "upstream-bad-response"}


def is_soap_request(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return is_soap_content_type(value)
    return False


def media_type(value: bytes | None) -> str:
    """The media type of a Content-Type value, lower-cased, without parameters ("" when absent)."""
    return "" if value is None else value.decode("latin-1").split(";")[0].strip().lower()


def is_soap_content_type(value: bytes | None) -> bool:
    """Whether a request's (first) Content-Type is a SOAP one; the gateway passes it from its header index."""
    return media_type(value) in SOAP_TYPES


async def describe(exchange: Exchange, runtime: Runtime, service: SoapService) -> bytes | None:
    """`GET .../openapi.json` and `GET .../{operation}/schema`; None when the path is neither."""
    assert exchange.request is not None
    path = exchange.request.sub_path.strip("/")
    if exchange.request.method != "GET":
        return None
    if path == "openapi.json":
        from lgsp.mediation import openapi

        document = openapi(service)
    elif path.endswith("/schema") and path.count("/") == 1:
        try:
            document = service.schemas(path.split("/", 1)[0])
        except MediationError as exc:
            raise as_problem(exc) from exc
    else:
        return None
    return json.dumps(document, ensure_ascii=False).encode()


async def prepare_json_call(exchange: Exchange, runtime: Runtime, service: SoapService) -> str:
    """Turn the JSON body into a SOAP envelope in place; returns the operation name."""
    request = exchange.request
    assert request is not None
    operation = request.sub_path.strip("/")
    if request.method != "POST" or not operation or "/" in operation:
        raise Problem("unknown-operation",
                      f"call SOAP operations as POST .../{{operation}} with a JSON body; "
                      f"operations: {', '.join(service.operation_names())}")
    try:
        envelope, headers = service.build_request(operation, request.body or b"{}",
                                                  xroad_headers(exchange, runtime, operation))
    except MediationError as exc:
        raise as_problem(exc) from exc
    request.body = envelope
    request.sub_path = ""
    # The caller's other headers travel on as for REST calls; the body's own headers are the SOAP ones.
    # Accept-Encoding too: the caller's "gzip" (curl --compressed, Python requests by default) made providers
    # compress a reply lgsp must read, which then failed as "malformed XML"; lgsp asks for it plain.
    replaced = {b"content-type", b"content-length", b"soapaction", b"accept", b"content-encoding",
                b"accept-encoding"}
    request.headers = [(k, v) for k, v in request.headers if k.lower() not in replaced]
    request.headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    request.headers.append((b"accept-encoding", b"identity"))
    exchange.extra["operation"] = operation
    # Read here, where the runtime is at hand: entry_limits() without settings would load them again
    # (environment + config file) on every mediated call.
    exchange.extra["upstream_xml_limits"] = entry_limits("upstream", settings=runtime.settings)
    return operation


def bounded(body: bytes, limits: XmlLimits, what: str) -> None:
    """413 before any tree is built when an XML body crosses its entry point's bounds (lgsp.safexml)."""
    try:
        prescan(body, limits)
    except XmlLimitExceeded as exc:
        raise Problem("payload-too-large", f"{what} is refused: {exc}", bound=exc.limit, maximum=exc.maximum) from None
    except UnsafeXmlError:
        pass  # malformed XML or a DTD: the parser that follows refuses it in its own words


def prepare_passthrough(exchange: Exchange, runtime: Runtime, service: SoapService) -> None:
    """Forward a SOAP envelope as is, with lgsp's X-Road headers replacing any the caller sent.

    The envelope must be the SOAP version its Content-Type says, and its Body must be the input of the
    operation the caller was granted: the provider executes the Body, so a call to a granted path with
    another operation's Body (or a SOAPAction naming another) would run what the grant does not allow.
    """
    request = exchange.request
    assert request is not None and exchange.client is not None and exchange.service is not None
    media = media_type(request.named.get(b"content-type"))
    bounded(request.body or b"", entry_limits("soap", settings=runtime.settings), "the SOAP request")
    try:
        checked = read_passthrough(request.body or b"")
    except MediationError as exc:
        raise Problem("bad-request", f"not a usable SOAP envelope: {exc.detail}") from exc
    soap12 = media == "application/soap+xml"
    if checked.soap_ns != (SOAP12_NS if soap12 else SOAP11_NS):
        raise Problem("bad-request", f"a SOAP {'1.2' if checked.soap_ns == SOAP12_NS else '1.1'} envelope sent as "
                      f"{media}: SOAP 1.1 goes as text/xml, SOAP 1.2 as application/soap+xml")
    operation = _passthrough_operation(exchange, runtime, service, checked.body_element)
    expected = service.operation(operation).soap_action
    for action in (*_soap_actions(request.headers, soap12), *checked.addressing_actions):
        if action and expected and action != expected:
            raise Problem("bad-request", f"the SOAP action {action[:200]!r} is not that of operation {operation} "
                          f"({expected!r})")
    try:
        request.body = apply_xroad_headers(checked, xroad_headers(exchange, runtime, operation))
    except ValueError as exc:
        raise Problem("bad-request", f"not a usable SOAP envelope: {exc}") from exc
    # The envelope is re-serialised as UTF-8: a caller's "charset=utf-16" (or any other) would mislabel it.
    content_type = "application/soap+xml; charset=utf-8" if soap12 else "text/xml; charset=utf-8"
    if soap12 and expected:
        content_type += f'; action="{expected}"'
    # One Content-Type and one SOAPAction, the checked ones: a second header of either went on after the
    # first, and a provider reading the last one would run another operation than the one checked here.
    request.headers = [(k, v) for k, v in request.headers if k.lower() not in (b"content-type", b"soapaction")]
    request.headers.append((b"content-type", content_type.encode()))
    if not soap12:
        request.headers.append((b"soapaction", f'"{expected}"'.encode()))
    request.sub_path = ""
    exchange.extra["operation"] = operation
    exchange.extra["soap_passthrough"] = True


def _passthrough_operation(exchange: Exchange, runtime: Runtime, service: SoapService, body_element: str) -> str:
    """The WSDL operation a pass-through call runs: the path's, which must take the Body's element, or,
    for a call to the service root, the one whose input the Body is (then checked against the grants)."""
    assert exchange.request is not None and exchange.client is not None and exchange.service is not None
    named = exchange.request.sub_path.strip("/")
    if named:
        try:
            info = service.operation(named)
        except MediationError as exc:
            raise as_problem(exc) from exc
        if info.input_element != body_element:
            raise Problem("bad-request", f"the SOAP Body holds {body_element[:300]!r}; operation {named} takes "
                          f"{info.input_element!r}")
        return named
    for name in service.operation_names():
        if service.operation(name).input_element == body_element:
            method = exchange.request.method
            if not runtime.registry.current().is_granted(exchange.client.system_id or "", exchange.service.id,
                                                         method, name):
                raise Problem("forbidden", f"{exchange.client.system_id} has no grant for {method} /{name} on "
                              f"{exchange.service.id}")
            return name
    raise Problem("unknown-operation", f"no operation of {exchange.service.id} takes {body_element[:300]!r} "
                  f"as input; operations: {', '.join(service.operation_names())}")


def _soap_actions(headers: list[tuple[bytes, bytes]], soap12: bool) -> list[str]:
    """The actions the caller names: every SOAPAction (1.1) or Content-Type ``action`` parameter (1.2)."""
    found: list[str] = []
    for name, value in headers:
        key = name.lower()
        if not soap12 and key == b"soapaction":
            found.append(value.decode("latin-1").strip().strip('"'))
        if soap12 and key == b"content-type":
            for param in value.decode("latin-1").split(";")[1:]:
                key_, _, text = param.partition("=")
                if key_.strip().lower() == "action":
                    found.append(text.strip().strip('"'))
    return found


INLINE_REPLY_BYTES = 8 * 1024


def _bounded_parse(service: SoapService, operation: str, status: int, content_type: str | None, body: bytes,
                   limits: XmlLimits) -> dict[str, object]:
    try:
        prescan(body, limits)
    except XmlLimitExceeded:
        raise
    except UnsafeXmlError:
        pass  # not XML, or malformed: parse_response says so in its own words
    return service.parse_response(operation, status, content_type, body)


async def json_reply(exchange: Exchange, service: SoapService, operation: str, status: int, content_type: str | None,
                     body: bytes) -> bytes:
    """Parse the SOAP reply into the JSON the caller gets: off the event loop unless it is small.

    A reply up to ``INLINE_REPLY_BYTES`` is bounded and decoded on the loop (a NGSP record takes about a
    hundred microseconds with the lxml fast path, less than handing it to a thread and back); a larger
    one goes to a worker thread, bounds check and parse in one hop.
    """
    limits = exchange.extra.get("upstream_xml_limits") or entry_limits("upstream")
    try:
        if len(body) <= INLINE_REPLY_BYTES:
            data = _bounded_parse(service, operation, status, content_type, body, limits)
        else:
            data = await asyncio.to_thread(_bounded_parse, service, operation, status, content_type, body, limits)
    except XmlLimitExceeded as exc:
        raise Problem("upstream-bad-response", f"the provider's reply is refused: {exc}", bound=exc.limit,
                      maximum=exc.maximum) from None
    except MediationError as exc:
        raise as_problem(exc) from exc
    payload = json.dumps(data, ensure_ascii=False).encode()
    exchange.response = UpstreamResponse(200, JSON_HEADERS, payload, hashlib.sha256(payload).hexdigest())
    return payload
