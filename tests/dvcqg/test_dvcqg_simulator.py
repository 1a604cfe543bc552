"""Simulator behaviours not covered through the client: routing, agency checks, control API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from adapters.dvcqg.seed import SAMPLE_AGENCY_CODE
from adapters.dvcqg.simulator import SimulatorConfig

from .conftest import Portal, dossier, progress


async def _login(http: httpx.AsyncClient, portal: Portal) -> str:
    answer = (
        await http.post(f"{portal.url}/auth", json={"username": portal.username, "password": portal.password})
    ).json()
    assert answer["error_code"] == 0
    return str(answer["session"])


async def _call(portal: Portal, path: str, service: str, **params: Any) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        session = await _login(http, portal)
        body = {"session": session, "madonvi": SAMPLE_AGENCY_CODE, "service": service, **params}
        response = await http.post(f"{portal.url}{path}", json=body)
    assert response.status_code == 200
    return dict(response.json())


async def test_writes_are_refused_on_the_share_endpoint(portal: Portal) -> None:
    answer = await _call(portal, "/share", "DongBoHoSoMC", isUpdating="False", data=[dossier()])
    assert answer["error_code"] == "04" and portal.sim.dossiers == {}


async def test_unknown_service_and_missing_params(portal: Portal) -> None:
    assert (await _call(portal, "/integration", "XoaHoSo"))["error_code"] == "04"
    missing = await _call(portal, "/integration", "TraCuuHoSo")
    assert missing["error_code"] == "03" and "mahoso" in missing["message"]


async def test_progress_for_a_dossier_never_synced_is_refused(portal: Portal) -> None:
    answer = await _call(portal, "/integration", "CapNhatTienDoHoSoMC", data=[progress()])
    assert answer["error_code"] == "06" and "never synced" in answer["message"]


async def test_empty_or_missing_data_is_refused(portal: Portal) -> None:
    data: object
    for data in ([], None, "x"):
        answer = await _call(portal, "/integration", "DongBoHoSoMC", isUpdating="False", data=data)
        assert answer["error_code"] == "03" and answer["message"].startswith("data:")


async def test_agency_is_checked_when_configured(start_portal: Callable[..., Portal]) -> None:
    portal = start_portal(madonvi="000.00.99.H10")
    answer = await _call(portal, "/share", "LayDanhMucCoQuan")
    assert answer["error_code"] == "05" and "madonvi" in answer["message"]


async def test_non_json_body_is_a_400(portal: Portal) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{portal.url}/integration", content=b"<xml/>")
    assert response.status_code == 400 and response.json()["error_code"] == "03"


async def test_control_api_state_faults_and_reset(portal: Portal) -> None:
    await _call(portal, "/integration", "DongBoHoSoMC", isUpdating="False", data=[dossier()])
    async with httpx.AsyncClient(base_url=portal.url) as http:
        state = (await http.get("/_sim/state")).json()
        assert list(state["dossiers"]) == [dossier()["MaHoSo"]] and state["calls"]["DongBoHoSoMC"] == 1
        assert (await http.post("/_sim/faults", json={"kind": "explode"})).status_code == 422
        assert (await http.post("/_sim/faults", json={"kind": "html", "times": 0})).status_code == 422
        assert (
            await http.post("/_sim/faults", json={"kind": "http_status", "status": 500, "times": None})
        ).status_code == 201
        assert (await http.post("/auth", json={})).status_code == 500
        assert (await http.delete("/_sim/faults")).status_code == 204
        assert (await http.post("/_sim/reset")).status_code == 204
        assert (await http.get("/_sim/state")).json()["dossiers"] == {}


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="username and password"):
        SimulatorConfig(username="", password="x")
    with pytest.raises(ValueError, match="session_ttl"):
        SimulatorConfig(username="u", password="p", session_ttl=0)
