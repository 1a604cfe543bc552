"""The sync service: one one-stop-shop event → DongBoHoSoMC (right isUpdating) → CapNhatTienDoHoSoMC."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.dvcqg import (
    DossierEvent,
    DossierSyncService,
    DossierValidationError,
    DvcqgClient,
    DvcqgSettings,
    DvcqgUnavailableError,
    InMemoryPushLedger,
    StatusMapping,
    TrangThaiHoSo,
    UnknownLocalStatusError,
)
from adapters.dvcqg.seed import SAMPLE_PROCEDURE_CODE
from adapters.dvcqg.simulator import Fault

from .conftest import Portal

CODE = "000.00.12.H10-250201-0042"


def event(local_status: str = "receiving", **dossier_overrides: Any) -> dict[str, Any]:
    """What a one-stop-shop system posts: no catalogue names, no TrangThaiHoSo (lgsp adds both)."""
    dossier: dict[str, Any] = {
        "MaHoSo": CODE,
        "MaTTHC": SAMPLE_PROCEDURE_CODE,
        "ChuHoSo": "Lê Văn C",
        "LoaiDoiTuong": 1,
        "TrichYeuHoSo": "Đăng ký khai sinh",
        "NgayTiepNhan": "20250201080000",
        "NgayHenTra": "20250206170000",
        "HinhThuc": 0,
        "DonViXuLy": "UBND phường An Hòa",
    }
    dossier.update(dossier_overrides)
    return {"local_status": local_status, "dossier": dossier, "occurred_at": "20250201081500"}


async def test_first_push_then_update_decides_is_updating(portal: Portal, mapping: StatusMapping) -> None:
    async with DvcqgClient(portal.settings()) as client:
        service = DossierSyncService(client, mapping, InMemoryPushLedger())
        first = await service.sync(event("receiving"))
        assert (first.is_updating, first.decided_by, first.status) == (
            False,
            "portal",
            TrangThaiHoSo.DUOC_TIEP_NHAN,
        )
        assert first.filled_from_catalogue
        stored = portal.sim.dossiers[CODE]
        assert stored["TenTTHC"] and stored["MaLinhVuc"] and stored["TrangThaiHoSo"] == "2"

        second = await service.sync(event("processing"))
        assert (second.is_updating, second.decided_by) == (True, "ledger")
        assert (await client.tra_cuu_ho_so(CODE))[0]["TrangThaiHoSo"] == "4"
    assert portal.sim.calls["TraCuuHoSo"] == 2  # one lookup for the first push, one explicit above
    assert [p["TrangThai"] for p in portal.sim.progress[CODE]] == ["2", "4"]


async def test_dossier_already_on_the_portal_is_an_update_even_with_an_empty_ledger(
    portal: Portal, mapping: StatusMapping
) -> None:
    async with DvcqgClient(portal.settings()) as client:
        await DossierSyncService(client, mapping, InMemoryPushLedger()).sync(event("receiving"))
        fresh_ledger = InMemoryPushLedger()  # e.g. a new lgsp install, or another system pushed it
        result = await DossierSyncService(client, mapping, fresh_ledger).sync(event("done"))
        assert (result.is_updating, result.decided_by) == (True, "portal")
        assert await fresh_ledger.was_pushed(CODE)
    assert portal.sim.dossiers[CODE]["TrangThaiHoSo"] == "9"


async def test_progress_record_defaults_and_vendor_values(portal: Portal, mapping: StatusMapping) -> None:
    async with DvcqgClient(portal.settings()) as client:
        service = DossierSyncService(client, mapping, InMemoryPushLedger())
        await service.sync(event("receiving"))
        with_progress = event("processing") | {
            "progress": {"NguoiXuLy": "Phạm D", "ChucDanh": "Chuyên viên", "NoiDungXuLy": "Thẩm định"}
        }
        await service.sync(with_progress)
    default, given = portal.sim.progress[CODE]
    assert default["NguoiXuLy"] == "UBND phường An Hòa" and default["NoiDungXuLy"] == "Được tiếp nhận"
    assert default["ThoiDiemXuLy"] == "20250201081500"
    assert (given["NguoiXuLy"], given["ChucDanh"], given["NoiDungXuLy"]) == (
        "Phạm D",
        "Chuyên viên",
        "Thẩm định",
    )


async def test_unknown_local_status_fails_before_any_call(portal: Portal, mapping: StatusMapping) -> None:
    async with DvcqgClient(portal.settings()) as client:
        with pytest.raises(UnknownLocalStatusError, match="'archived'") as caught:
            await DossierSyncService(client, mapping, InMemoryPushLedger()).sync(event("archived"))
    assert caught.value.retryable is False
    assert portal.sim.logins == 0 and not portal.sim.calls


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"NgayHenTra": None}, "dossier.NgayHenTra"),
        ({"NgayTiepNhan": "2025-02-01T08:00:00"}, "dossier.NgayTiepNhan"),
        ({"TrichYeuHoSo": ""}, "dossier.TrichYeuHoSo"),
        ({"TrangThaiHoSo": 4}, "dossier.TrangThaiHoSo"),
    ],
)
async def test_bad_dossier_fails_before_any_call(
    portal: Portal, mapping: StatusMapping, overrides: dict[str, Any], field: str
) -> None:
    async with DvcqgClient(portal.settings()) as client:
        with pytest.raises(DossierValidationError) as caught:
            await DossierSyncService(client, mapping, InMemoryPushLedger()).sync(event(**overrides))
    assert field in caught.value.fields and caught.value.retryable is False
    assert not portal.sim.calls


async def test_procedure_unknown_to_the_portal_is_permanent(portal: Portal, mapping: StatusMapping) -> None:
    async with DvcqgClient(portal.settings()) as client:
        with pytest.raises(DossierValidationError) as caught:
            await DossierSyncService(client, mapping, InMemoryPushLedger()).sync(event(MaTTHC="9.999999"))
    assert caught.value.fields == ("dossier.MaTTHC",)
    assert "DongBoHoSoMC" not in portal.sim.calls


async def test_provider_down_delays_but_does_not_lose_the_event(portal: Portal, mapping: StatusMapping) -> None:
    stored = DossierEvent.parse(event("receiving")).to_payload()  # what the outbox keeps
    portal.sim.add_fault(Fault("http_status", status=503, times=None, services=frozenset({"DongBoHoSoMC"})))
    async with DvcqgClient(portal.settings()) as client:
        service = DossierSyncService(client, mapping, InMemoryPushLedger())
        for _ in range(2):
            with pytest.raises(DvcqgUnavailableError) as caught:
                await service.sync(stored)
            assert caught.value.retryable is True
        assert CODE not in portal.sim.dossiers
        portal.sim.clear_faults()  # the portal is back
        result = await service.sync(stored)
    assert result.is_updating is False and portal.sim.dossiers[CODE]["TrangThaiHoSo"] == "2"


async def test_retry_after_progress_failure_sends_an_update(portal: Portal, mapping: StatusMapping) -> None:
    portal.sim.add_fault(Fault("http_status", status=502, services=frozenset({"CapNhatTienDoHoSoMC"})))
    async with DvcqgClient(portal.settings()) as client:
        service = DossierSyncService(client, mapping, InMemoryPushLedger())
        with pytest.raises(DvcqgUnavailableError):
            await service.sync(event("receiving"))
        assert CODE in portal.sim.dossiers and CODE not in portal.sim.progress
        retried = await service.sync(event("receiving"))  # the outbox retries the same event
    assert (retried.is_updating, retried.decided_by) == (True, "ledger")
    assert len(portal.sim.progress[CODE]) == 1


def test_check_at_ingest_reports_every_problem_without_network(mapping: StatusMapping) -> None:
    nowhere = DvcqgSettings(adapter_url="http://127.0.0.1:9", username="u", password="p", madonvi="m")
    never_used = DvcqgClient(nowhere)  # check() must not touch the network at all
    service = DossierSyncService(never_used, mapping, InMemoryPushLedger())
    bad = event(NgayHenTra="tomorrow") | {"progress": {"TrangThai": 4, "ThoiDiemXuLy": "now"}}
    with pytest.raises(DossierValidationError) as caught:
        service.check(bad)
    assert caught.value.fields == ("progress.TrangThai",)
    with pytest.raises(DossierValidationError) as caught:
        service.check(event(NgayHenTra="tomorrow") | {"progress": {"ThoiDiemXuLy": "now"}})
    assert caught.value.fields == ("dossier.NgayHenTra",)
    parsed, status = service.check(event("processing", TenTTHC=""))  # blank catalogue names get filled later
    assert status is TrangThaiHoSo.DANG_XU_LY and parsed.ma_ho_so == CODE


def test_event_envelope_is_validated_and_round_trips() -> None:
    with pytest.raises(DossierValidationError) as caught:
        DossierEvent.parse({"dossier": {}, "occurred_at": "yesterday", "colour": "red"})
    assert set(caught.value.fields) == {"local_status", "occurred_at", "colour"}
    parsed = DossierEvent.parse({"local_status": "new", "dossier": {"MaHoSo": "X"}})
    assert len(parsed.occurred_at) == 14  # stamped at ingest, kept through the outbox
    assert DossierEvent.parse(parsed.to_payload()) == parsed
