"""Fixtures for mediation tests: the real NGSP WSDL, a round-trip WSDL and a real SOAP echo server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.ngsp.paths import WSDL_PATH
from lgsp.mediation import SoapService
from lgsp.safexml import parse_xml
from lgsp.testing.servers import RunningServer, serve_in_thread

DATA = Path(__file__).parent / "data"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture(scope="session")
def ngsp() -> SoapService:
    return SoapService.from_wsdl(WSDL_PATH)


@pytest.fixture(scope="session")
def roundtrip() -> SoapService:
    return SoapService.from_wsdl(DATA / "roundtrip.wsdl")


async def _echo(request: Request) -> Response:
    """Answer an Echo request with the same content under EchoResponse (a real SOAP provider)."""
    root = parse_xml(await request.body())
    payload = root.find(f"{{{SOAP_NS}}}Body")[0]
    payload.tag = "{urn:test:roundtrip}EchoResponse"
    env = etree.Element(f"{{{SOAP_NS}}}Envelope")
    etree.SubElement(env, f"{{{SOAP_NS}}}Body").append(payload)
    return Response(etree.tostring(env, xml_declaration=True, encoding="utf-8"), media_type="text/xml")


@pytest.fixture(scope="session")
def echo_server() -> Iterator[RunningServer]:
    with serve_in_thread(Starlette(routes=[Route("/", _echo, methods=["POST"])])) as server:
        yield server
