"""The bodies of the dossier intake API (`POST /dossiers/events`), as OpenAPI publishes them.

Field names inside ``dossier`` and ``progress`` are DVCQG's own (PROTOCOLS.md); the gateway checks them
against the portal's rules before it queues anything (:mod:`adapters.dvcqg.models`), so these models only
fix the envelope. The examples are the demo's data.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class DossierEventIn(BaseModel):
    """A one-stop-shop event: local status, when, the dossier (DVCQG field names) and the progress note."""

    model_config = ConfigDict(extra="forbid")

    local_status: str = Field(min_length=1, examples=["receiving"],
                              description="mapped to DVCQG TrangThaiHoSo by the gateway's status mapping")
    local_sub_status: str | None = None
    occurred_at: str | None = Field(None, pattern=r"^[0-9]{14}$", examples=["20251126081500"],
                                    description="yyyyMMddHHmmss, Vietnam time; default: when lgsp received it")
    dossier: dict[str, Any] = Field(examples=[{
        "MaHoSo": "000.00.12.H10-251126-000001", "MaTTHC": "1.001234", "ChuHoSo": "Lê Văn C", "LoaiDoiTuong": "1",
        "TrichYeuHoSo": "Đăng ký khai sinh", "NgayTiepNhan": "20251126080000", "NgayHenTra": "20251201170000",
        "HinhThuc": "0", "DonViXuLy": "UBND phường An Hòa"}])
    progress: dict[str, Any] | None = Field(None, examples=[{"NguoiXuLy": "Phạm Thị D",
                                                             "NoiDungXuLy": "Tiếp nhận hồ sơ"}])


class DossierAccepted(BaseModel):
    message_id: str = Field(examples=["d4bf7e14-95ad-4102-b387-87117bdf2986"])
    state: Literal["accepted"]
    dossier: str = Field(examples=["000.00.12.H10-251126-000001"])
    trang_thai_ho_so: int = Field(examples=[2])
    duplicate: bool


class DossierEventState(BaseModel):
    message_id: str
    dossier: str | None = Field(examples=["000.00.12.H10-251126-000001"])
    state: str = Field(examples=["pending"])
    attempts: int
    last_error: str | None
    accepted_at: str | None
    delivered_at: str | None
