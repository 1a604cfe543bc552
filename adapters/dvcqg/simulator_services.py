"""The DVCQG simulator's portal semantics (PROTOCOLS.md §4): what each service does with the stored
dossiers and progress, and which requests it refuses. HTTP, sessions and faults are
:mod:`adapters.dvcqg.simulator`'s part.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from .codes import (
    CAP_NHAT_TIEN_DO_HO_SO_MC,
    CATALOGUE_SERVICES,
    DONG_BO_HO_SO_MC,
    LAY_DANH_SACH_TTHC,
    LAY_THU_TUC,
    TRA_CUU_HO_SO,
    decode_is_updating,
)
from .errors import DossierValidationError, FieldProblem
from .models import validate_dossier, validate_progress
from .simulator_config import INVALID_DATA, STATE_CONFLICT, UNKNOWN_SERVICE, SimulatorConfig, _Refusal


def _required_param(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _Refusal(INVALID_DATA, f"{name}: required")
    return value


def _validate_batch(body: dict[str, Any], validate: Callable[..., Any]) -> list[Any]:
    data = body.get("data")
    if not isinstance(data, list) or not data:
        raise _Refusal(INVALID_DATA, "data: must be a non-empty array of records")
    problems: list[FieldProblem] = []
    valid = []
    for index, item in enumerate(data):
        try:
            valid.append(validate(item, prefix=f"data[{index}]"))
        except DossierValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise _Refusal(INVALID_DATA, "; ".join(str(p) for p in problems))
    return valid


class PortalServices:
    """The services' behaviour over the simulator's stored state (mixed into :class:`DvcqgSimulator`)."""

    config: SimulatorConfig
    _lock: threading.Lock
    dossiers: dict[str, dict[str, Any]]
    progress: dict[str, list[dict[str, Any]]]
    _procedures: dict[str, dict[str, Any]]

    def _dispatch(self, service: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        if service == DONG_BO_HO_SO_MC:
            return self._dong_bo_ho_so(body)
        if service == CAP_NHAT_TIEN_DO_HO_SO_MC:
            return self._cap_nhat_tien_do(body)
        if service == TRA_CUU_HO_SO:
            code = _required_param(body, "mahoso")
            with self._lock:
                found = self.dossiers.get(code)
                return [json.loads(json.dumps(found))] if found else []
        if service == LAY_THU_TUC:
            procedure = self._procedures.get(_required_param(body, "maTTHC"))
            return [procedure] if procedure else []
        if service == LAY_DANH_SACH_TTHC:
            return [{"MATTHC": p["MATTHC"], "TENTTHC": p["TENTTHC"]} for p in self._procedures.values()]
        if service in CATALOGUE_SERVICES:
            return list(self.config.catalogues.get(service, []))
        raise _Refusal(UNKNOWN_SERVICE, f"service: {service} is not simulated")

    def _dong_bo_ho_so(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            is_updating = decode_is_updating(body.get("isUpdating"))
        except ValueError as exc:
            raise _Refusal(INVALID_DATA, f"isUpdating: {exc}") from None
        records = [r.to_wire() for r in _validate_batch(body, validate_dossier)]
        with self._lock:
            if self.config.strict_is_updating:
                for index, record in enumerate(records):
                    code = record["MaHoSo"]
                    if code in self.dossiers and not is_updating:
                        message = f"{code} already synced; send isUpdating=True"
                        raise _Refusal(STATE_CONFLICT, f"data[{index}].MaHoSo: {message}")
                    if code not in self.dossiers and is_updating:
                        message = f"{code} unknown; a first push needs isUpdating=False"
                        raise _Refusal(STATE_CONFLICT, f"data[{index}].MaHoSo: {message}")
            for record in records:
                self.dossiers[record["MaHoSo"]] = record
        return [{"MaHoSo": r["MaHoSo"]} for r in records]

    def _cap_nhat_tien_do(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        records = [r.to_wire() for r in _validate_batch(body, validate_progress)]
        with self._lock:
            for index, record in enumerate(records):
                if record["MaHoSo"] not in self.dossiers:
                    raise _Refusal(
                        STATE_CONFLICT,
                        f"data[{index}].MaHoSo: {record['MaHoSo']} was never synced with DongBoHoSoMC",
                    )
            for record in records:
                self.progress.setdefault(record["MaHoSo"], []).append(record)
                # [I] the latest progress status becomes the dossier's status, so TraCuuHoSo reflects it
                self.dossiers[record["MaHoSo"]]["TrangThaiHoSo"] = record["TrangThai"]
        return [{"MaHoSo": r["MaHoSo"]} for r in records]
