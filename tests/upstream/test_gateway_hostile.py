"""The gateway against providers that misbehave at the HTTP level (raw sockets, `tests.upstream.hostile`).

Every call must end in a clear answer (the reply, or a 502/504 problem naming the provider's fault) within
the service's timeout, with its audit entry written, memory bounded and no traceback logged.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import struct
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from lgsp.app import create_app
from lgsp.auth.clients import create_client
from lgsp.settings import Settings
from lgsp.testing.servers import start_server
from registry.declarative import apply, parse_registry_file
from tests.upstream.hostile import HostileServer, Request, drip, fixed, reply

CITY, DEPT, NATIONAL = "000.00.12.H10", "000.00.31.H10", "000.00.00.G22"
CLIENT = f"{CITY}/MOTCUA"
NGSP_NS = "urn:lgsp:ngsp:v1"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
CITIZEN = {"SoDinhDanh": "092090000101", "HoVaTen": "Nguyễn Văn An", "NgaySinh": "1990-01-15"}
ANSWER = (f'<?xml version="1.0" encoding="utf-8"?><e:Envelope xmlns:e="{SOAP11}"><e:Body>'
          f'<n:XacThucThongTinCongDanResponse xmlns:n="{NGSP_NS}"><n:KetQuaXacThuc>true</n:KetQuaXacThuc>'
          '<n:MaKetQua>KHOP</n:MaKetQua><n:ThoiDiemXacThuc>2025-01-01T10:00:00+07:00</n:ThoiDiemXacThuc>'
          '</n:XacThucThongTinCongDanResponse></e:Body></e:Envelope>').encode()
BOMB_BYTES = 200 * 1024 * 1024  # what the bombs inflate to; each is ~200 KB on the wire


def _bomb(wbits: int) -> bytes:
    """Zeros compressed block by block (gzip: wbits 31, deflate: 15), never held inflated here either."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(BOMB_BYTES // len(block))) + packer.flush()


GZIP_BOMB, DEFLATE_BOMB = _bomb(31), _bomb(15)


def _encoded(encoding: str, body: bytes, content_type: str = "text/xml") -> bytes:
    return reply("200 OK", [("Content-Type", content_type), ("Content-Encoding", encoding),
                            ("Content-Length", str(len(body)))], body)


async def _gzip_if_asked(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A provider (IIS, nginx with gzip on) that compresses whenever the request accepts it."""
    if "gzip" in request.headers.get("accept-encoding", ""):
        writer.write(_encoded("gzip", gzip.compress(ANSWER)))
    else:
        writer.write(reply("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(ANSWER)))], ANSWER))
    await writer.drain()


async def _cut_mid_stream(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """2 MiB of a declared 5 MiB (more than the gateway buffers, so it is streaming), then a reset."""
    writer.write(reply("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(5 * 1024 * 1024))], bytes(2 * 1024 * 1024)))
    await writer.drain()
    await asyncio.sleep(0.3)  # the gateway has read and passed on what was sent
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


DRIP_HEAD = reply("200 OK", [("Content-Type", "text/xml"), ("Content-Length", "100000")])
REST_SCRIPTS = {
    "drip": drip(DRIP_HEAD, 0.2),
    "chunk-drip": drip(reply("200 OK", [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")])
                       + b"186a0\r\n", 0.2),
    "cut": _cut_mid_stream,
    "gzip-bomb": fixed(_encoded("gzip", GZIP_BOMB, "application/json")),
}
SOAP_SCRIPTS = {
    "s-drip": drip(DRIP_HEAD, 0.2),
    "s-gzip-if-asked": _gzip_if_asked,
    "s-gzip-bomb": fixed(_encoded("gzip", GZIP_BOMB)),
    "s-deflate-bomb": fixed(_encoded("deflate", DEFLATE_BOMB)),
    "s-br": fixed(_encoded("br", b"\x0b\x02\x80ab")),
}


@dataclass
class Gateway:
    http: httpx.Client
    provider: HostileServer

    def rest(self, name: str) -> httpx.Response:
        return self.http.get(f"/services/{DEPT}/PROV/{name}/x")

    def soap(self, name: str, **headers: str) -> httpx.Response:
        return self.http.post(f"/services/{NATIONAL}/NGSP/{name}/XacThucThongTinCongDan", json=CITIZEN,
                              headers=headers)

    def audited(self, response: httpx.Response) -> None:
        assert int(response.headers["x-lgsp-audit-index"]) >= 0


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    provider = HostileServer({**REST_SCRIPTS, **SOAP_SCRIPTS})
    tmp: Path = tmp_path_factory.mktemp("hostile")
    settings = Settings.load(database_url=f"sqlite:///{tmp / 'g.db'}", access_log=False)
    app = create_app(settings)
    services = "".join(
        f'  - {{id: {DEPT}/PROV/{name}, name: {name}, base_url: "{provider.url}/{name}", timeout_seconds: 1, '
        f'retry_attempts: 0}}\n' for name in REST_SCRIPTS)
    services += "".join(
        f'  - {{id: {NATIONAL}/NGSP/{name}, name: {name}, kind: soap, base_url: "{provider.url}/{name}", '
        f'wsdl_path: wsdl/ngsp/ngsp.wsdl, timeout_seconds: 1, retry_attempts: 0, max_body_bytes: 1048576}}\n'
        for name in SOAP_SCRIPTS)
    grants = "".join(f"  - {{client: {CLIENT}, service: {DEPT}/PROV/{name}}}\n" for name in REST_SCRIPTS)
    grants += "".join(f"  - {{client: {CLIENT}, service: {NATIONAL}/NGSP/{name}}}\n" for name in SOAP_SCRIPTS)
    apply(app.runtime.engine, parse_registry_file(f"""
agencies:
  - {{code: {CITY}, name: UBND Cần Thơ}}
  - {{code: {DEPT}, name: Sở Tư pháp, parent: {CITY}}}
  - {{code: {NATIONAL}, name: Văn phòng Chính phủ}}
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: {DEPT}/PROV, name: Provider, client: false, provider: true}}
  - {{id: {NATIONAL}/NGSP, name: NGSP, client: false, provider: true}}
services:
{services}grants:
{grants}"""))
    cred = create_client(app.runtime.engine, CLIENT, ["gateway"])
    app.runtime.registry_changed()
    gateway = start_server(app)
    # The client's own timeout is well above the services' 1 s: a call that runs into it is the defect.
    with httpx.Client(base_url=gateway.url, timeout=15) as http:
        token = http.post("/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(cred.client_id, cred.client_secret)).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        yield Gateway(http, provider)
    gateway.stop()
    provider.stop()
    app.runtime.engine.dispose()


@pytest.mark.parametrize("name", ["drip", "chunk-drip"])
def test_a_provider_dripping_its_reply_is_a_504_not_a_hang(gw: Gateway, name: str) -> None:
    """One byte every 0.2 s never tripped the per-read timeout: the caller waited for the whole 100 KB."""
    response = gw.rest(name)
    assert response.status_code == 504, response.text
    assert response.json()["type"].endswith("/upstream-timeout")
    assert "whole reply within 1 s" in response.json()["detail"]
    gw.audited(response)


def test_a_mediated_reply_dripped_is_a_504_not_a_hang(gw: Gateway) -> None:
    response = gw.soap("s-drip")
    assert response.status_code == 504, response.text
    assert response.json()["type"].endswith("/upstream-timeout")
    gw.audited(response)


def test_a_reply_cut_mid_stream_closes_the_connection_and_logs_no_traceback(gw: Gateway) -> None:
    """The caller sees a cut body; the gateway logs one warning, not an 'exchange failed' error with a trace."""
    with capture_logs() as logs, pytest.raises(httpx.RemoteProtocolError):
        gw.rest("cut")
    events = [(entry["log_level"], entry["event"]) for entry in logs]
    assert ("warning", "provider reply cut mid-stream") in events
    assert not [entry for entry in logs if entry["log_level"] in ("error", "critical") or entry.get("exc_info")]


def test_the_callers_accept_encoding_does_not_reach_a_mediated_provider(gw: Gateway) -> None:
    """A caller asking for gzip (Python requests does by default) got 502 "malformed XML": the provider
    compressed the SOAP reply lgsp had to read itself."""
    before = len(gw.provider.requests)
    response = gw.soap("s-gzip-if-asked", **{"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200, response.text
    assert response.json()["MaKetQua"] == "KHOP"
    [sent] = gw.provider.requests[before:]
    assert sent.headers.get("accept-encoding") == "identity"


@pytest.mark.parametrize("name", ["s-gzip-bomb", "s-deflate-bomb"])
def test_a_compression_bomb_on_the_mediation_path_is_refused_in_bounded_memory(gw: Gateway, name: str) -> None:
    tracemalloc.start()
    try:
        response = gw.soap(name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 502, response.text
    assert "exceeds 1048576 bytes once decoded" in response.json()["detail"]
    assert peak < 64 * 1024 * 1024  # the bomb inflates to 200 MiB
    gw.audited(response)


def test_an_encoding_lgsp_cannot_decode_on_the_mediation_path_is_named(gw: Gateway) -> None:
    response = gw.soap("s-br")
    assert response.status_code == 502, response.text
    assert "br" in response.json()["detail"] and response.json()["type"].endswith("/upstream-bad-response")
    gw.audited(response)


def test_a_compressed_reply_on_the_plain_path_passes_through_still_encoded(gw: Gateway) -> None:
    """The proxy path never inflates what it does not read: the caller gets the provider's bytes."""
    tracemalloc.start()
    try:
        with gw.http.stream("GET", f"/services/{DEPT}/PROV/gzip-bomb/x") as response:
            raw = b"".join(response.iter_raw())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"
    assert raw == GZIP_BOMB
    assert peak < 64 * 1024 * 1024
