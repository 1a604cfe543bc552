"""The DVCQG client against the simulator over real HTTP: session handling, typed errors, faults."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import httpx
import pytest

from adapters.dvcqg import (
    DossierValidationError,
    DvcqgAuthenticationError,
    DvcqgClient,
    DvcqgProtocolError,
    DvcqgServiceError,
    DvcqgSessionError,
    DvcqgSettings,
    DvcqgUnavailableError,
)
from adapters.dvcqg.seed import SAMPLE_PROCEDURE_CODE
from adapters.dvcqg.simulator import Fault

from .conftest import FakeClock, Portal, dossier, progress


async def test_reads_procedure_and_catalogues(portal: Portal) -> None:
    async with DvcqgClient(portal.settings()) as client:
        procedure = await client.lay_thu_tuc(SAMPLE_PROCEDURE_CODE)
        assert procedure is not None and procedure["TENTTHC"]
        assert procedure["LINHVUCTHUCHIEN"][0]["MALINHVUC"]
        assert await client.lay_thu_tuc("9.999999") is None
        agencies = await client.lay_danh_muc("LayDanhMucCoQuan")
        assert agencies and {"MADONVI", "TENDONVI", "CAPDONVI"} <= agencies[0].keys()
        assert any(row["MATTHC"] == SAMPLE_PROCEDURE_CODE for row in await client.lay_danh_sach_tthc())
    assert portal.sim.logins == 1  # one session served every call


async def test_unknown_catalogue_is_refused_without_a_network_call(portal: Portal) -> None:
    async with DvcqgClient(portal.settings()) as client:
        with pytest.raises(ValueError, match="not a DVCQG catalogue service"):
            await client.lay_danh_muc("LayDanhMucKhongCo")
    assert portal.sim.logins == 0 and not portal.sim.calls


async def test_push_update_and_progress_are_reflected_by_tra_cuu(portal: Portal) -> None:
    async with DvcqgClient(portal.settings()) as client:
        code = dossier()["MaHoSo"]
        assert await client.tra_cuu_ho_so(code) == []
        await client.dong_bo_ho_so_mc([dossier()], is_updating=False)
        assert (await client.tra_cuu_ho_so(code))[0]["TrangThaiHoSo"] == "2"
        await client.dong_bo_ho_so_mc([dossier(TrangThaiHoSo=4)], is_updating=True)
        assert (await client.tra_cuu_ho_so(code))[0]["TrangThaiHoSo"] == "4"
        await client.cap_nhat_tien_do_ho_so_mc([progress(TrangThai=9)])
        assert (await client.tra_cuu_ho_so(code))[0]["TrangThaiHoSo"] == "9"
    assert [p["TrangThai"] for p in portal.sim.progress[code]] == ["9"]


async def test_wrong_password_is_a_permanent_authentication_error(portal: Portal) -> None:
    async with DvcqgClient(portal.settings(password="not-the-password")) as client:
        with pytest.raises(DvcqgAuthenticationError) as caught:
            await client.lay_thu_tuc(SAMPLE_PROCEDURE_CODE)
    assert caught.value.retryable is False
    assert "not-the-password" not in str(caught.value)


async def test_error_code_other_than_00_raises_a_typed_error(portal: Portal) -> None:
    only = frozenset({"LayThuTuc"})
    portal.sim.add_fault(Fault("error_code", error_code="17", message="Mã TTHC bị khóa", services=only))
    async with DvcqgClient(portal.settings()) as client:
        with pytest.raises(DvcqgServiceError) as caught:
            await client.lay_thu_tuc(SAMPLE_PROCEDURE_CODE)
    assert caught.value.error_code == "17" and caught.value.service == "LayThuTuc"
    assert "Mã TTHC bị khóa" in str(caught.value) and caught.value.retryable is False


async def test_operator_can_declare_an_error_code_retryable(portal: Portal) -> None:
    portal.sim.add_fault(Fault("error_code", error_code="91", services=frozenset({"LayDanhSachTTHC"})))
    async with DvcqgClient(portal.settings(retryable_error_codes=frozenset({"91"}))) as client:
        with pytest.raises(DvcqgServiceError) as caught:
            await client.lay_danh_sach_tthc()
        assert caught.value.retryable is True
        portal.sim.add_fault(Fault("error_code", error_code="91", services=frozenset({"login"})))
        with pytest.raises(DvcqgServiceError) as at_login:
            await client.login()
        assert at_login.value.service == "login" and at_login.value.retryable is True


async def test_portal_side_validation_names_the_field(portal: Portal) -> None:
    """Bypass client validation to check the simulator enforces §4.3 by itself."""
    bad = dossier(NgayHenTra="05/02/2025")
    del bad["DonViXuLy"]
    async with DvcqgClient(portal.settings()) as client:
        with pytest.raises(DvcqgServiceError) as caught:
            await client.call("DongBoHoSoMC", {"isUpdating": "False", "data": [bad]})
    assert caught.value.error_code == "03"
    assert "data[0].NgayHenTra" in caught.value.portal_message
    assert "data[0].DonViXuLy" in caught.value.portal_message
    assert portal.sim.dossiers == {}


async def test_client_refuses_invalid_records_before_sending(portal: Portal) -> None:
    async with DvcqgClient(portal.settings()) as client:
        with pytest.raises(DossierValidationError) as caught:
            await client.dong_bo_ho_so_mc([dossier(), dossier(MaHoSo="", NgayTiepNhan="2025")], is_updating=False)
    assert caught.value.fields == ("data[1].MaHoSo", "data[1].NgayTiepNhan")
    assert "DongBoHoSoMC" not in portal.sim.calls


async def test_forced_session_expiry_relogs_in_transparently(portal: Portal) -> None:
    async with DvcqgClient(portal.settings()) as client:
        await client.lay_danh_sach_tthc()
        portal.sim.expire_sessions()
        assert await client.lay_danh_sach_tthc()
        assert client.login_count == 2 and portal.sim.logins == 2


async def test_concurrent_calls_after_expiry_share_one_new_login(portal: Portal) -> None:
    async with DvcqgClient(portal.settings()) as client:
        await client.lay_danh_sach_tthc()
        portal.sim.expire_sessions()
        results = await asyncio.gather(*(client.tra_cuu_ho_so(f"X{i}") for i in range(8)))
    assert results == [[]] * 8
    assert portal.sim.logins == 2


async def test_session_ttl_expiry_relogs_in(start_portal: Callable[..., Portal]) -> None:
    clock = FakeClock()
    portal = start_portal(session_ttl=60, clock=clock)
    async with DvcqgClient(portal.settings()) as client:
        await client.lay_danh_sach_tthc()
        clock.advance(59)
        await client.lay_danh_sach_tthc()
        assert portal.sim.logins == 1
        clock.advance(2)
        await client.lay_danh_sach_tthc()
        assert portal.sim.logins == 2 and portal.sim.calls["LayDanhSachTTHC"] == 3


async def test_expiry_injected_over_the_control_api_relogs_in(portal: Portal) -> None:
    async with httpx.AsyncClient() as control:
        answer = await control.post(
            f"{portal.url}/_sim/faults", json={"kind": "expire_session", "services": ["TraCuuHoSo"]}
        )
    assert answer.status_code == 201
    async with DvcqgClient(portal.settings()) as client:
        assert await client.tra_cuu_ho_so("X") == []
    assert portal.sim.logins == 2


async def test_session_rejected_even_after_relogin_is_a_retryable_session_error(portal: Portal) -> None:
    portal.sim.add_fault(Fault("error_code", times=2, error_code="02", services=frozenset({"TraCuuHoSo"})))
    async with DvcqgClient(portal.settings()) as client:
        with pytest.raises(DvcqgSessionError) as caught:
            await client.tra_cuu_ho_so("X")
    assert caught.value.retryable is True and portal.sim.logins == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_server_errors_are_retryable(portal: Portal, status: int) -> None:
    portal.sim.add_fault(Fault("http_status", status=status, services=frozenset({"TraCuuHoSo"})))
    async with DvcqgClient(portal.settings()) as client:
        with pytest.raises(DvcqgUnavailableError) as caught:
            await client.tra_cuu_ho_so("X")
        assert caught.value.retryable is True and caught.value.status == status
        assert await client.tra_cuu_ho_so("X") == []  # the fault was one-off; the next call works


async def test_provider_down_is_retryable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and now has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = DvcqgSettings(adapter_url=f"http://127.0.0.1:{port}", username="u", password="p", madonvi="m")
    async with DvcqgClient(settings) as client:
        with pytest.raises(DvcqgUnavailableError) as caught:
            await client.lay_danh_sach_tthc()
    assert caught.value.retryable is True


async def test_slow_portal_times_out_as_retryable(portal: Portal) -> None:
    portal.sim.add_fault(Fault("delay", delay=0.6, services=frozenset({"TraCuuHoSo"})))
    async with DvcqgClient(portal.settings(timeout=0.2)) as client:
        with pytest.raises(DvcqgUnavailableError, match="did not answer") as caught:
            await client.tra_cuu_ho_so("X")
    assert caught.value.retryable is True


async def test_html_error_page_is_a_permanent_protocol_error(portal: Portal) -> None:
    portal.sim.add_fault(Fault("html"))
    async with DvcqgClient(portal.settings()) as client:
        with pytest.raises(DvcqgProtocolError, match="not JSON") as caught:
            await client.login()
    assert caught.value.retryable is False


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="adapter_url"):
        DvcqgSettings(adapter_url="ftp://x", username="u", password="p", madonvi="m")
    with pytest.raises(ValueError, match="password"):
        DvcqgSettings(adapter_url="http://x", username="u", password="", madonvi="m")
    with pytest.raises(ValueError, match="LGSP_DVCQG_PASSWORD, LGSP_DVCQG_MADONVI"):
        DvcqgSettings.from_env({"LGSP_DVCQG_ADAPTER_URL": "http://x", "LGSP_DVCQG_USERNAME": "u"})
    settings = DvcqgSettings.from_env(
        {
            "LGSP_DVCQG_ADAPTER_URL": "https://dvc.example/api",
            "LGSP_DVCQG_USERNAME": "u",
            "LGSP_DVCQG_PASSWORD": "secret",
            "LGSP_DVCQG_MADONVI": "000.00.12.H10",
            "LGSP_DVCQG_SESSION_EXPIRED_CODES": "02, 401",
        }
    )
    assert settings.url("/integration") == "https://dvc.example/api/integration"
    assert settings.session_expired_codes == frozenset({"02", "401"})
    assert "secret" not in repr(settings)
