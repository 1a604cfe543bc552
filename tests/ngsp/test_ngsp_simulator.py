"""The NGSP simulator and client over real HTTP: lookups, schema checks, header echo, injected failures."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest

from adapters.ngsp.client import NgspClient
from adapters.ngsp.seed import Citizen
from adapters.ngsp.simulator import SimulatorConfig, create_simulator_app
from lgsp.mediation import MediationError, MediationInputError, SoapFaultError, UpstreamFormatError
from lgsp.testing.servers import RunningServer, serve_in_thread

CLIENT = "VN/GOV/000.00.12.H10/MOTCUA"


def _client(server: RunningServer, **kwargs: object) -> NgspClient:
    return NgspClient(server.url + "/", CLIENT, **kwargs)  # type: ignore[arg-type]


def test_wsdl_and_schemas_are_served(ngsp_sim: RunningServer) -> None:
    wsdl = httpx.get(ngsp_sim.url + "/?wsdl")
    assert wsdl.status_code == 200 and b"XacThucThongTinCongDan" in wsdl.content
    assert f'location="{ngsp_sim.url}/"'.encode() in wsdl.content  # address points at this server
    assert httpx.get(ngsp_sim.url + "/ngsp-types.xsd").status_code == 200
    assert httpx.get(ngsp_sim.url + "/secret.txt").status_code == 404


async def test_citizen_verification(ngsp_sim: RunningServer) -> None:
    async with _client(ngsp_sim) as client:
        ok = await client.verify_citizen("092090000101", "  nguyễn văn AN ", dt.date(1990, 1, 15))
        assert ok["KetQuaXacThuc"] is True and ok["MaKetQua"] == "KHOP" and ok["TruongKhongKhop"] == []
        wrong = await client.verify_citizen("092090000101", "Nguyễn Văn An", "1990-01-16")
        assert wrong["MaKetQua"] == "KHONG_KHOP" and wrong["TruongKhongKhop"] == ["NgaySinh"]
        unknown = await client.verify_citizen("012345678901", "Ai Đó", "2000-01-01")
        assert unknown["MaKetQua"] == "KHONG_TIM_THAY" and unknown["KetQuaXacThuc"] is False
        assert dt.datetime.fromisoformat(ok["ThoiDiemXacThuc"]).utcoffset() == dt.timedelta(hours=7)


async def test_business_lookup_keeps_types(ngsp_sim: RunningServer) -> None:
    async with _client(ngsp_sim) as client:
        found = await client.lookup_business("1800000025")
        dn = found["DoanhNghiep"]
        assert dn["VonDieuLe"] == "7250000000.50"
        assert dn["NgayThanhLap"] == "2015-09-01"
        assert isinstance(dn["NganhNghe"], list) and len(dn["NganhNghe"]) == 1  # one element, still a list
        assert dn["NganhNghe"][0]["LaNganhChinh"] is True
        assert "TenTiengAnh" not in dn
        branch = (await client.lookup_business("1800000032-001"))["DoanhNghiep"]
        assert branch["NganhNghe"] == [] and branch["TrangThai"] == "TAM_NGUNG"
        assert (await client.lookup_business("0000000000"))["TimThay"] is False


async def test_xroad_headers_reach_the_provider(ngsp_sim: RunningServer) -> None:
    async with _client(ngsp_sim) as client:
        await client.lookup_business("1800000018", user_id="canbo-42")
    async with httpx.AsyncClient() as http:
        received = (await http.get(ngsp_sim.url + "/admin/requests")).json()["received"][-1]
    assert received["client"] == CLIENT
    assert received["service"] == "VN/GOV/000.00.00.G01/NGSP/TraCuuDoanhNghiep/v1"
    assert received["userId"] == "canbo-42" and received["protocolVersion"] == "4.0"


async def test_invalid_input_never_reaches_the_provider(ngsp_sim: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=ngsp_sim.url) as http, _client(ngsp_sim) as client:
        before = (await http.get("/admin/requests")).json()["count"]
        with pytest.raises(MediationInputError) as info:
            await client.verify_citizen("09209", "Nguyễn Văn An", "1990-01-15")
        assert info.value.field == "SoDinhDanh"
        assert (await http.get("/admin/requests")).json()["count"] == before


def test_schema_violation_fault_names_the_location(ngsp_sim: RunningServer) -> None:
    body = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        '<n:TraCuuDoanhNghiep xmlns:n="urn:lgsp:ngsp:v1"><n:MaSoThue>abc</n:MaSoThue></n:TraCuuDoanhNghiep>'
        "</s:Body></s:Envelope>"
    )
    with serve_in_thread(create_simulator_app(SimulatorConfig(require_xroad_headers=False))) as server:
        resp = httpx.post(server.url + "/", content=body, headers={"Content-Type": "text/xml"})
    assert resp.status_code == 500
    assert b"SCHEMA_INVALID" in resp.content and b"MaSoThue" in resp.content


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("fault", SoapFaultError),
        ("html", UpstreamFormatError),
        ("http503", UpstreamFormatError),
        ("xxe", UpstreamFormatError),
        ("not-xml", UpstreamFormatError),
    ],
)
async def test_injected_failures_per_request(ngsp_sim: RunningServer, mode: str, error: type[MediationError]) -> None:
    async with _client(ngsp_sim) as client:
        with pytest.raises(error) as info:
            await client.call(
                "TraCuuDoanhNghiep",
                {"MaSoThue": "1800000018"},
                extra_http_headers={"X-Ngsp-Sim-Inject": mode},
            )
    assert info.value.kind in ("soap-fault", "upstream-bad-response") and info.value.http_status == 502
    if isinstance(info.value, SoapFaultError):
        assert info.value.code == "soapenv:Server"
        assert info.value.fault_detail == {"Loi": {"MaLoi": "NGSP-503", "MoTa": "injected fault"}}


async def test_admin_queue_injects_the_next_requests() -> None:
    with serve_in_thread(create_simulator_app()) as server:
        async with httpx.AsyncClient(base_url=server.url) as http, _client(server) as client:
            resp = await http.post("/admin/inject", json={"mode": "fault", "count": 2})
            assert resp.json() == {"pending": 2}
            assert (await http.post("/admin/inject", json={"mode": "explode"})).status_code == 400
            for _ in range(2):
                with pytest.raises(SoapFaultError):
                    await client.lookup_business("1800000018")
            assert (await client.lookup_business("1800000018"))["TimThay"] is True
            await http.post("/admin/inject", json={"mode": "html", "count": 5})
            assert (await http.delete("/admin/inject")).json() == {"pending": 0}
            assert (await client.lookup_business("1800000018"))["TimThay"] is True


async def test_injected_delay_trips_the_client_timeout(ngsp_sim: RunningServer) -> None:
    async with _client(ngsp_sim, timeout=0.2) as client:
        with pytest.raises(asyncio.TimeoutError):
            await client.call(
                "TraCuuDoanhNghiep", {"MaSoThue": "1800000018"}, extra_http_headers={"X-Ngsp-Sim-Delay": "3"}
            )


async def test_simulator_uses_configured_records() -> None:
    config = SimulatorConfig(citizens={"111111111111": Citizen("111111111111", "Thử Nghiệm", dt.date(2000, 2, 29))})
    with serve_in_thread(create_simulator_app(config)) as server:
        async with _client(server) as client:
            assert (await client.verify_citizen("111111111111", "Thử Nghiệm", "2000-02-29"))["MaKetQua"] == "KHOP"
            assert (await client.verify_citizen("092090000101", "Nguyễn Văn An", "1990-01-15"))[
                "MaKetQua"
            ] == "KHONG_TIM_THAY"


async def test_pass_through_envelope_reaches_the_provider_with_our_identity(ngsp_sim: RunningServer) -> None:
    """A caller's own envelope, with a spoofed client header, is forwarded with lgsp's headers instead."""
    from lgsp.mediation import XRoadClient, XRoadHeaders, XRoadService, apply_xroad_headers

    spoofed = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:xrd="http://x-road.eu/xsd/xroad.xsd" xmlns:id="http://x-road.eu/xsd/identifiers"><s:Header>'
        b'<xrd:client id:objectType="MEMBER"><id:xRoadInstance>VN</id:xRoadInstance>'
        b"<id:memberClass>GOV</id:memberClass><id:memberCode>SPOOF</id:memberCode></xrd:client></s:Header>"
        b'<s:Body><n:TraCuuDoanhNghiep xmlns:n="urn:lgsp:ngsp:v1"><n:MaSoThue>1800000018</n:MaSoThue>'
        b"</n:TraCuuDoanhNghiep></s:Body></s:Envelope>"
    )
    headers = XRoadHeaders(
        XRoadClient.parse("VN/GOV/000.00.12.H10/QLVB"),
        XRoadService.parse("VN/GOV/000.00.00.G01/NGSP/TraCuuDoanhNghiep"),
        id="pass-1",
    )
    async with httpx.AsyncClient(base_url=ngsp_sim.url) as http:
        resp = await http.post("/", content=apply_xroad_headers(spoofed, headers), headers={"Content-Type": "text/xml"})
        assert resp.status_code == 200 and b"TimThay>true<" in resp.content
        received = (await http.get("/admin/requests")).json()["received"][-1]
    assert received["client"] == "VN/GOV/000.00.12.H10/QLVB" and received["id"] == "pass-1"
