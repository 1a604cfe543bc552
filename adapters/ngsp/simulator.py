"""NGSP simulator: a real SOAP 1.1 server for national-database lookups, for tests, demo and bench.

It behaves like an X-Road-fronted national service: validates every request (X-Road headers and body)
against the XSD, answers from seeded fictitious data, echoes the X-Road headers, serves its WSDL and XSDs,
and can inject faults (see :mod:`adapters.ngsp.injection`). Run it with
``python -m adapters.ngsp.simulator --port 8085``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import xmlschema
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from lgsp.safexml import UnsafeXmlError, hardened_parser, parse_xml

from .answers import answer_business, answer_citizen
from .injection import FaultInjector, Injection
from .paths import NGSP_NS, WSDL_DIR, WSDL_PATH
from .seed import BUSINESSES, CITIZENS, Business, Citizen

__all__ = ["SimulatorConfig", "create_simulator_app", "main"]

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XROAD_NS = "http://x-road.eu/xsd/xroad.xsd"
REQUIRED_XROAD = ("client", "service", "id", "protocolVersion")
XML_TYPE = "text/xml; charset=utf-8"
OPERATIONS = {
    f"{{{NGSP_NS}}}XacThucThongTinCongDan": ("XacThucThongTinCongDan", "citizens"),
    f"{{{NGSP_NS}}}TraCuuDoanhNghiep": ("TraCuuDoanhNghiep", "businesses"),
}


@dataclass
class SimulatorConfig:
    """What the simulator knows and how it behaves; tests pass their own records or delays."""

    citizens: Mapping[str, Citizen] = field(default_factory=lambda: dict(CITIZENS))
    businesses: Mapping[str, Business] = field(default_factory=lambda: dict(BUSINESSES))
    default_delay: float = 0.0
    require_xroad_headers: bool = True
    admin_enabled: bool = True
    remember_requests: int = 100


def _load_schema() -> xmlschema.XMLSchema:
    wsdl = etree.parse(str(WSDL_PATH), hardened_parser()).getroot()
    inline = wsdl.find("{http://schemas.xmlsoap.org/wsdl/}types/{http://www.w3.org/2001/XMLSchema}schema")
    return xmlschema.XMLSchema(inline, base_url=str(WSDL_DIR), allow="sandbox", defuse="always")


class SoapFault(Exception):
    """Raised inside request handling; rendered as a SOAP 1.1 Fault with HTTP 500."""

    def __init__(self, code: str, string: str, detail: Mapping[str, str] | None = None) -> None:
        super().__init__(string)
        self.code, self.string, self.detail = code, string, detail or {}


def fault_envelope(code: str, string: str, detail: Mapping[str, str] | None = None) -> bytes:
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soapenv": SOAP_NS})
    body = etree.SubElement(env, f"{{{SOAP_NS}}}Body")
    fault = etree.SubElement(body, f"{{{SOAP_NS}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soapenv:{code}"
    etree.SubElement(fault, "faultstring").text = string
    if detail:
        det = etree.SubElement(fault, "detail")
        err = etree.SubElement(det, f"{{{NGSP_NS}}}Loi", nsmap={"ngsp": NGSP_NS})
        for key, value in detail.items():
            etree.SubElement(err, f"{{{NGSP_NS}}}{key}").text = value
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


_HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway"
    b"</h1><p>nginx</p></body></html>"
)
_XXE = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    b"<r>&x;</r></soapenv:Body></soapenv:Envelope>"
)


class NgspSimulator:
    """Request handling; one instance per app so tests can run several simulators side by side."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.schema = _load_schema()
        self.injector = FaultInjector(config.default_delay)
        self.received: deque[dict[str, str]] = deque(maxlen=config.remember_requests)
        self.count = 0
        self.files = {p.name: p.read_bytes() for p in WSDL_DIR.iterdir() if p.suffix in (".wsdl", ".xsd")}

    # ------------------------------------------------------------------ routes

    async def wsdl_or_info(self, request: Request) -> Response:
        if "wsdl" in request.query_params or "WSDL" in request.query_params:
            return self._wsdl(request)
        return PlainTextResponse("NGSP simulator (lgsp). GET ?wsdl for the WSDL, POST SOAP 1.1 requests here.\n")

    async def file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name == WSDL_PATH.name:
            return self._wsdl(request)
        data = self.files.get(name)
        if data is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(data, media_type="application/xml")

    def _wsdl(self, request: Request) -> Response:
        # The soap:address points at this server, so a client using the served WSDL calls us.
        address = str(request.base_url).rstrip("/") + "/"
        data = self.files[WSDL_PATH.name].replace(b"http://127.0.0.1/ngsp", address.encode())
        return Response(data, media_type="application/xml")

    async def soap(self, request: Request) -> Response:
        self.count += 1
        try:
            injection = self.injector.next(
                request.headers.get("x-ngsp-sim-inject"), request.headers.get("x-ngsp-sim-delay")
            )
        except ValueError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        body = await request.body()
        if injection.delay and await self._delay(request, injection.delay):
            return Response(status_code=499)  # the caller gave up; nobody reads this
        injected = self._injected(injection)
        if injected is not None:
            return injected
        try:
            payload = self.handle(body, request.headers.get("soapaction"))
        except SoapFault as fault:
            return Response(
                fault_envelope(fault.code, fault.string, fault.detail), status_code=500, media_type=XML_TYPE
            )
        return Response(payload, media_type=XML_TYPE)

    @staticmethod
    async def _delay(request: Request, seconds: float) -> bool:
        """Sleep like a slow national system, but stop early (True) once the caller has disconnected."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            await asyncio.sleep(min(0.05, left))
            if await request.is_disconnected():
                return True
        return False

    @staticmethod
    def _injected(injection: Injection) -> Response | None:
        mode = injection.mode
        if mode == "fault":
            data = fault_envelope(
                "Server",
                "CSDL quốc gia tạm thời không phản hồi (lỗi mô phỏng)",
                {"MaLoi": "NGSP-503", "MoTa": "injected fault"},
            )
            return Response(data, status_code=500, media_type=XML_TYPE)
        if mode in ("http500", "http503"):
            return PlainTextResponse("Service Unavailable", status_code=int(mode[4:]))
        if mode == "html":
            return Response(_HTML_PAGE, status_code=502, media_type="text/html")
        if mode == "xxe":
            return Response(_XXE, media_type=XML_TYPE)
        if mode == "not-xml":
            return Response(b'{"error": "unexpected"}', media_type="application/json")
        return None

    async def admin_inject(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.injector.clear()
            return JSONResponse({"pending": 0})
        try:
            data = await request.json()
            injection = Injection(str(data.get("mode", "none")), float(data.get("delay", 0.0)))
            self.injector.queue(injection, int(data.get("count", 1)))
        except (ValueError, AttributeError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"pending": self.injector.pending()})

    async def admin_requests(self, request: Request) -> Response:
        return JSONResponse({"count": self.count, "received": list(self.received)})

    # ------------------------------------------------------------------ SOAP handling

    def handle(self, body: bytes, soap_action: str | None) -> bytes:
        try:
            root = parse_xml(body, max_bytes=1024 * 1024)
        except UnsafeXmlError as exc:
            raise SoapFault("Client", f"Request is not acceptable XML: {exc}") from exc
        if root.tag != f"{{{SOAP_NS}}}Envelope":
            code = "VersionMismatch" if etree.QName(root).localname == "Envelope" else "Client"
            raise SoapFault(code, f"Expected a SOAP 1.1 Envelope, got {root.tag}")
        header = root.find(f"{{{SOAP_NS}}}Header")
        xroad = self._check_headers(header)
        body_el = root.find(f"{{{SOAP_NS}}}Body")
        payloads = [c for c in body_el if isinstance(c.tag, str)] if body_el is not None else []
        if len(payloads) != 1:
            raise SoapFault("Client", "The SOAP Body must contain exactly one request element")
        payload = payloads[0]
        operation = OPERATIONS.get(payload.tag)
        if operation is None:
            raise SoapFault(
                "Client",
                f"Unknown operation element {payload.tag}",
                {"MaLoi": "UNKNOWN_OPERATION", "MoTa": str(payload.tag)},
            )
        name, source = operation
        action = (soap_action or "").strip().strip('"')
        if action and action != f"{NGSP_NS}#{name}":
            raise SoapFault("Client", f"SOAPAction {action!r} does not match operation {name}")
        self._validate(payload)
        xroad["operation"] = name
        self.received.append(xroad)
        if source == "citizens":
            answer = answer_citizen(payload, self.config.citizens)
        else:
            answer = answer_business(payload, self.config.businesses)
        return self._envelope(header, answer)

    def _check_headers(self, header: etree._Element | None) -> dict[str, str]:
        found: dict[str, str] = {}
        elements = [c for c in header if isinstance(c.tag, str)] if header is not None else []
        for el in elements:
            if not el.tag.startswith(f"{{{XROAD_NS}}}"):
                continue
            local = etree.QName(el).localname
            self._validate(el)
            if local in ("client", "service"):
                found[local] = "/".join((c.text or "").strip() for c in el if isinstance(c.tag, str))
            else:
                found[local] = (el.text or "").strip()
        missing = [h for h in REQUIRED_XROAD if h not in found]
        if missing and self.config.require_xroad_headers:
            raise SoapFault(
                "Client",
                f"Missing X-Road header(s): {', '.join('xrd:' + m for m in missing)}",
                {"MaLoi": "XROAD_HEADER_MISSING", "MoTa": ", ".join(missing)},
            )
        return found

    def _validate(self, element: etree._Element) -> None:
        error = next(iter(self.schema.iter_errors(element)), None)
        if error is not None:
            where = error.path or etree.QName(element).localname
            raise SoapFault(
                "Client",
                f"Request does not conform to the schema at {where}: {error.reason}",
                {"MaLoi": "SCHEMA_INVALID", "ViTri": str(where), "MoTa": str(error.reason)},
            )

    @staticmethod
    def _envelope(request_header: etree._Element | None, answer: etree._Element) -> bytes:
        env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soapenv": SOAP_NS})
        header = etree.SubElement(env, f"{{{SOAP_NS}}}Header")
        if request_header is not None:  # X-Road: the response repeats the request's headers
            for el in request_header:
                if isinstance(el.tag, str) and el.tag.startswith(f"{{{XROAD_NS}}}"):
                    header.append(copy.deepcopy(el))
        etree.SubElement(env, f"{{{SOAP_NS}}}Body").append(answer)
        return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def create_simulator_app(config: SimulatorConfig | None = None) -> Starlette:
    """The simulator as an ASGI app; ``app.state.simulator`` exposes its injector and received headers."""
    sim = NgspSimulator(config or SimulatorConfig())
    routes = [
        Route("/", sim.wsdl_or_info, methods=["GET"]),
        Route("/", sim.soap, methods=["POST"]),
        Route("/health", lambda request: JSONResponse({"status": "ok"}), methods=["GET"]),
        Route("/{name:str}", sim.file, methods=["GET"]),
    ]
    if sim.config.admin_enabled:
        routes[2:2] = [
            Route("/admin/inject", sim.admin_inject, methods=["POST", "DELETE"]),
            Route("/admin/requests", sim.admin_requests, methods=["GET"]),
        ]
    app = Starlette(routes=routes)
    app.state.simulator = sim
    return app


def main(argv: list[str] | None = None) -> None:
    """``python -m adapters.ngsp.simulator --port N`` (binds 127.0.0.1 unless --host says otherwise)."""
    import uvicorn

    from lgsp.sdk.simulator import run_uvicorn, shutdown

    shutdown.install()  # SIGTERM from here on ends in exit 0 (see lgsp.shutdown)
    parser = argparse.ArgumentParser(description="NGSP SOAP simulator (lgsp)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8085)
    parser.add_argument("--delay", type=float, default=0.0, help="default delay per request, seconds")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    app = create_simulator_app(SimulatorConfig(default_delay=args.delay))
    run_uvicorn(uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False))


if __name__ == "__main__":
    main()
