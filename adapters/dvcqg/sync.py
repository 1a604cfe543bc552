"""Synchronise one dossier event from a one-stop-shop system to DVCQG (§4.2 "typical flow").

The lead's durable outbox calls :meth:`DossierSyncService.sync` once per stored event and decides from
the exception's ``retryable`` flag whether to retry later or dead-letter. The flow per event:

1. map the local status to a ``TrangThaiHoSo`` code (unknown status → permanent error, nothing sent);
2. validate the dossier and progress record (bad field → permanent error, nothing sent);
3. fill ``TenTTHC``/``MaLinhVuc``/``TenLinhVuc`` from ``LayThuTuc`` when the vendor left them out;
4. decide ``isUpdating``: "True" if our ledger says we pushed it before, otherwise ask ``TraCuuHoSo``;
5. ``DongBoHoSoMC``, record the push in the ledger, then ``CapNhatTienDoHoSoMC``.

Retrying the whole event is safe: after step 5's first call succeeded, a retry finds the dossier in the
ledger (or on the portal) and sends an update instead of a second first push.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .client import DvcqgClient
from .codes import TrangThaiHoSo
from .dates import VIETNAM_TZ, now_timestamp, parse_timestamp
from .errors import DossierValidationError, FieldProblem
from .models import (
    DossierRecord,
    ProgressRecord,
    Timestamp,
    field_problems,
    validate_dossier,
    validate_progress,
)
from .status_mapping import StatusMapping
from .text import text_problems

CATALOGUE_FIELDS = ("TenTTHC", "MaLinhVuc", "TenLinhVuc")
_PLACEHOLDER = "(filled from LayThuTuc)"
#: how far ahead of lgsp's clock an ``occurred_at`` may be (the sender's clock may run a little fast)
FUTURE_SLACK = timedelta(hours=1)
#: ``dvcqg_dossiers.ma_ho_so``'s length
MAX_DOSSIER_CODE = 100


class PushLedger(Protocol):
    """Remembers which dossiers lgsp has pushed; the lead backs it with the store."""

    async def was_pushed(self, ma_ho_so: str) -> bool: ...

    async def record_push(self, ma_ho_so: str) -> None: ...


class InMemoryPushLedger:
    """:class:`PushLedger` for tests and single-process use; forgets everything on restart.

    Forgetting is safe (the service then asks ``TraCuuHoSo``), only slower.
    """

    def __init__(self) -> None:
        self._pushed: set[str] = set()

    async def was_pushed(self, ma_ho_so: str) -> bool:
        return ma_ho_so in self._pushed

    async def record_push(self, ma_ho_so: str) -> None:
        self._pushed.add(ma_ho_so)


class DossierEvent(BaseModel):
    """What a one-stop-shop system posts to lgsp when a dossier changes (see docs/dvcqg.md).

    ``dossier`` holds §4.3 fields except ``TrangThaiHoSo`` (lgsp derives it from ``local_status``);
    ``progress`` holds the §4.3 progress fields except ``MaHoSo``/``TrangThai``; ``occurred_at`` defaults
    to the moment lgsp received the event, so retries later do not change it.
    """

    model_config = ConfigDict(extra="forbid")

    local_status: str = Field(min_length=1)
    local_sub_status: str | None = None
    dossier: dict[str, Any]
    progress: dict[str, Any] | None = None
    occurred_at: Timestamp = Field(default_factory=now_timestamp)

    @property
    def ma_ho_so(self) -> str:
        return str(self.dossier.get("MaHoSo", ""))

    @classmethod
    def parse(cls, payload: Any) -> DossierEvent:
        """Validate a JSON payload; errors name the field (``dossier``, ``occurred_at``…)."""
        if isinstance(payload, DossierEvent):
            return payload
        if not isinstance(payload, dict):
            raise DossierValidationError([FieldProblem("(event)", "must be a JSON object")], record="dossier event")
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise DossierValidationError(field_problems(exc, ""), record="dossier event") from None

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready form for the outbox (round-trips through :meth:`parse`)."""
        return self.model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True)
class SyncResult:
    """What one sync did, for the audit log and the outbox's success record."""

    ma_ho_so: str
    status: TrangThaiHoSo
    is_updating: bool
    decided_by: Literal["ledger", "portal"]
    filled_from_catalogue: bool


class DossierSyncService:
    """Pushes one dossier event to DVCQG with the right ``isUpdating``, then its progress record."""

    def __init__(self, client: DvcqgClient, mapping: StatusMapping, ledger: PushLedger) -> None:
        self.client = client
        self.mapping = mapping
        self.ledger = ledger
        self._procedures: dict[str, tuple[str, str, str]] = {}

    # ---- offline part (also usable at ingest time for an immediate 422) -----------------------------

    def check(self, event: DossierEvent | dict[str, Any]) -> tuple[DossierEvent, TrangThaiHoSo]:
        """Everything that can be checked without the portal; raises the same errors :meth:`sync` would.

        The lead calls this when the vendor posts the event, so bad input is a 422 right away instead of
        a dead letter later.
        """
        # first, before any check quotes the text back (adapters.dvcqg.text)
        unfit = text_problems(event.model_dump() if isinstance(event, DossierEvent) else event)
        if unfit:
            raise DossierValidationError(unfit, record="dossier event")
        event = DossierEvent.parse(event)
        status = self.mapping.to_dvcqg(event.local_status, event.local_sub_status)
        problems = [
            FieldProblem(f"dossier.{name}", "set by lgsp from local_status; leave it out")
            for name in ("TrangThaiHoSo",)
            if name in event.dossier
        ] + [
            FieldProblem(f"progress.{name}", "set by lgsp; leave it out")
            for name in ("MaHoSo", "TrangThai")
            if event.progress and name in event.progress
        ]
        if len(event.ma_ho_so) > MAX_DOSSIER_CODE:
            # the code keys lgsp's own tables (dvcqg_dossiers.ma_ho_so): a longer one failed the INSERT on
            # PostgreSQL, a 500 after the event had passed every check
            problems.append(FieldProblem("dossier.MaHoSo", f"at most {MAX_DOSSIER_CODE} characters "
                                                           f"({len(event.ma_ho_so)} given)"))
        if parse_timestamp(event.occurred_at) > datetime.now(VIETNAM_TZ) + FUTURE_SLACK:
            # an event "from" 9999 would supersede every real one of its dossier (adapters.dvcqg.delivery)
            problems.append(FieldProblem("occurred_at", f"{event.occurred_at} is in the future"))
        if event.ma_ho_so != event.ma_ho_so.strip() or not event.ma_ho_so.isprintable():
            # " X" or "X\n" keyed a second dossier (owner, ledger) beside X, which the portal may well trim to X
            problems.append(FieldProblem("dossier.MaHoSo", "no spaces around it, no control characters"))
        if problems:
            raise DossierValidationError(problems, record="dossier event")
        provisional = event.dossier | {name: _PLACEHOLDER for name in CATALOGUE_FIELDS if not event.dossier.get(name)}
        validate_dossier(self._dossier_dict(provisional, status), prefix="dossier")
        validate_progress(self._progress_dict(event, status), prefix="progress")
        return event, status

    @staticmethod
    def _dossier_dict(dossier: dict[str, Any], status: TrangThaiHoSo) -> dict[str, Any]:
        return dossier | {"TrangThaiHoSo": int(status)}

    @staticmethod
    def _progress_dict(event: DossierEvent, status: TrangThaiHoSo) -> dict[str, Any]:
        """Progress record; unspecified actor/text default to the agency and the status label [I]."""
        defaults = {
            "NguoiXuLy": event.dossier.get("DonViXuLy"),
            "NoiDungXuLy": status.label,
            "ThoiDiemXuLy": event.occurred_at,
        }
        given = {k: v for k, v in (event.progress or {}).items() if v not in (None, "")}
        return defaults | given | {"MaHoSo": event.ma_ho_so, "TrangThai": int(status)}

    # ---- online part ---------------------------------------------------------------------------------

    async def _procedure_fields(self, ma_tthc: str) -> tuple[str, str, str]:
        """``(TenTTHC, MaLinhVuc, TenLinhVuc)`` from ``LayThuTuc`` (first field, as S-OCPS does), cached."""
        cached = self._procedures.get(ma_tthc)
        if cached is not None:
            return cached
        procedure = await self.client.lay_thu_tuc(ma_tthc)
        if procedure is None:
            raise DossierValidationError(
                [FieldProblem("dossier.MaTTHC", f"{ma_tthc!r} is not a procedure known to DVCQG (LayThuTuc)")],
                record="dossier event",
            )
        fields = procedure.get("LINHVUCTHUCHIEN") or [{}]
        first = fields[0] if isinstance(fields, list) and fields and isinstance(fields[0], dict) else {}
        values = (
            str(procedure.get("TENTTHC") or ""),
            str(first.get("MALINHVUC") or ""),
            str(first.get("TENLINHVUC") or ""),
        )
        if not all(values):
            raise DossierValidationError(
                [FieldProblem("dossier.MaTTHC", f"LayThuTuc for {ma_tthc!r} lacks TENTTHC or LINHVUCTHUCHIEN")],
                record="dossier event",
            )
        self._procedures[ma_tthc] = values
        return values

    async def _decide_is_updating(self, ma_ho_so: str) -> tuple[bool, Literal["ledger", "portal"]]:
        if await self.ledger.was_pushed(ma_ho_so):
            return True, "ledger"
        found = await self.client.tra_cuu_ho_so(ma_ho_so)
        if found:
            await self.ledger.record_push(ma_ho_so)  # pushed earlier by someone else or a lost ledger
        return bool(found), "portal"

    async def sync(self, event: DossierEvent | dict[str, Any]) -> SyncResult:
        """Push one event; failures are :class:`DvcqgError` subclasses (see their ``retryable``)."""
        event, status = self.check(event)
        dossier = dict(event.dossier)
        filled = False
        if any(not dossier.get(name) for name in CATALOGUE_FIELDS):
            values = await self._procedure_fields(str(dossier["MaTTHC"]))
            for name, value in zip(CATALOGUE_FIELDS, values, strict=True):
                if not dossier.get(name):
                    dossier[name] = value
            filled = True
        record: DossierRecord = validate_dossier(self._dossier_dict(dossier, status), prefix="dossier")
        progress: ProgressRecord = validate_progress(self._progress_dict(event, status), prefix="progress")

        is_updating, decided_by = await self._decide_is_updating(event.ma_ho_so)
        await self.client.dong_bo_ho_so_mc([record], is_updating=is_updating)
        await self.ledger.record_push(event.ma_ho_so)
        await self.client.cap_nhat_tien_do_ho_so_mc([progress])
        return SyncResult(event.ma_ho_so, status, is_updating, decided_by, filled)
