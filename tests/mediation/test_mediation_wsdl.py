"""WSDLs come from local disk only, are built once and cached, and describe their operations."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.ngsp.paths import WSDL_DIR, WSDL_PATH
from lgsp.mediation import SoapService, WsdlLoadError
from lgsp.mediation.loader import LocalOnlyTransport
from lgsp.testing.servers import RunningServer, serve_in_thread

DATA = Path(__file__).parent / "data"
SCHEMA = '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:evil"/>'


class _Counter:
    def __init__(self) -> None:
        self.hits = 0
        self.lock = threading.Lock()

    async def serve(self, request: Request) -> Response:
        with self.lock:
            self.hits += 1
        return Response(SCHEMA, media_type="application/xml")


@pytest.fixture
def schema_host() -> Iterator[tuple[RunningServer, _Counter]]:
    counter = _Counter()
    app = Starlette(routes=[Route("/{path:path}", counter.serve)])
    with serve_in_thread(app) as server:
        yield server, counter


def _remote_import_wsdl(tmp_path: Path, url: str) -> Path:
    text = (DATA / "roundtrip.wsdl").read_text(encoding="utf-8")
    text = text.replace(
        '<xs:complexType name="Item">',
        f'<xs:import namespace="urn:evil" schemaLocation="{url}"/><xs:complexType name="Item">',
    )
    path = tmp_path / "remote.wsdl"
    path.write_text(text, encoding="utf-8")
    return path


def test_wsdl_importing_a_remote_url_is_refused_and_never_fetched(
    tmp_path: Path, schema_host: tuple[RunningServer, _Counter]
) -> None:
    server, counter = schema_host
    path = _remote_import_wsdl(tmp_path, f"{server.url}/evil.xsd")
    with pytest.raises(WsdlLoadError) as info:
        SoapService.from_wsdl(path)
    assert info.value.kind == "wsdl-invalid"
    assert counter.hits == 0  # the network was never touched
    # the server itself works, so a hit count of 0 means lgsp refused, not that the fetch failed
    import urllib.request

    urllib.request.urlopen(f"{server.url}/probe").read()
    assert counter.hits == 1


def test_transport_refuses_urls_and_files_outside_root(tmp_path: Path) -> None:
    transport = LocalOnlyTransport(tmp_path)
    with pytest.raises(WsdlLoadError, match="local files only"):
        transport.load("http://127.0.0.1:9/x.xsd")
    with pytest.raises(WsdlLoadError, match="outside"):
        transport.load("/etc/hostname")
    with pytest.raises(WsdlLoadError, match="must not perform HTTP"):
        transport.get("http://127.0.0.1:9/", {}, {})
    (tmp_path / "ok.xsd").write_bytes(SCHEMA.encode())
    assert transport.load(str(tmp_path / "ok.xsd")) == SCHEMA.encode()


def test_wsdl_with_dtd_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dtd.wsdl"
    path.write_text('<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>', encoding="utf-8")
    with pytest.raises(WsdlLoadError, match="DTD"):
        SoapService.from_wsdl(path)


def test_missing_wsdl_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WsdlLoadError, match="cannot read WSDL"):
        SoapService.from_wsdl(tmp_path / "nope.wsdl")


@pytest.fixture
def recheck_always(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SoapService, "recheck_seconds", 0.0)


@pytest.mark.usefixtures("recheck_always")
def test_service_objects_are_cached_per_path_and_mtime(tmp_path: Path) -> None:
    for name in os.listdir(WSDL_DIR):
        shutil.copy(WSDL_DIR / name, tmp_path / name)
    path = tmp_path / "ngsp.wsdl"
    first = SoapService.from_wsdl(path)
    assert SoapService.from_wsdl(str(path)) is first
    assert SoapService.from_wsdl(tmp_path / "." / "ngsp.wsdl") is first
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    second = SoapService.from_wsdl(path)
    assert second is not first  # the edited WSDL is reloaded
    assert SoapService.from_wsdl(path) is second


def test_operations_are_listed(ngsp: SoapService) -> None:
    assert ngsp.operation_names() == ["XacThucThongTinCongDan", "TraCuuDoanhNghiep"]
    op = ngsp.operation("TraCuuDoanhNghiep")
    assert op.soap_action == "urn:lgsp:ngsp:v1#TraCuuDoanhNghiep"
    assert op.output_element == "{urn:lgsp:ngsp:v1}TraCuuDoanhNghiepResponse"
    assert op.documentation and "mã số thuế" in op.documentation
    assert ngsp.soap_version == "1.1" and ngsp.name == "NgspTraCuuService"
    assert SoapService.from_wsdl(WSDL_PATH) is ngsp


@pytest.mark.usefixtures("recheck_always")
def test_editing_an_imported_xsd_invalidates_the_cache(tmp_path: Path) -> None:
    for name in os.listdir(WSDL_DIR):
        shutil.copy(WSDL_DIR / name, tmp_path / name)
    first = SoapService.from_wsdl(tmp_path / "ngsp.wsdl")
    xsd = tmp_path / "ngsp-types.xsd"
    xsd.write_text(xsd.read_text(encoding="utf-8").replace('value="\\d{12}"', 'value="\\d{9}|\\d{12}"'))
    second = SoapService.from_wsdl(tmp_path / "ngsp.wsdl")
    assert second is not first
    second.build_request(
        "XacThucThongTinCongDan", {"SoDinhDanh": "123456789", "HoVaTen": "A", "NgaySinh": "2000-01-01"}
    )


def test_recently_checked_service_is_returned_without_touching_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SoapService, "recheck_seconds", 60.0)
    for name in os.listdir(WSDL_DIR):
        shutil.copy(WSDL_DIR / name, tmp_path / name)
    first = SoapService.from_wsdl(tmp_path / "ngsp.wsdl")
    shutil.rmtree(tmp_path)  # within recheck_seconds the cached object is trusted
    assert SoapService.from_wsdl(tmp_path / "ngsp.wsdl") is first
