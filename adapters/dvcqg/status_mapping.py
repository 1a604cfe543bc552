"""Local one-stop-shop statuses → DVCQG ``TrangThaiHoSo`` codes (§4.5).

Each one-stop-shop product (một cửa) has its own status model; the portal knows only codes 1–10. Like
OpenCPS's ``opencps_dossierstatusmapping`` (statusCode, subStatusCode → statusCodeDVCQG, [C]), the
mapping is data a province edits, not code. A status missing from the mapping is an error, never a
silent default: pushing a wrong status to the national portal is visible to the citizen.

File format (YAML or the same shape as a dict)::

    statuses:
      new: 1                 # local status → code
      processing: 4
      processing/waiting_fee: 6   # "status/sub_status" overrides the bare status
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .codes import TrangThaiHoSo
from .errors import StatusMappingError, UnknownLocalStatusError

SUB_STATUS_SEPARATOR = "/"


@dataclass(frozen=True)
class StatusMapping:
    """A validated, immutable local→DVCQG status table."""

    table: Mapping[str, TrangThaiHoSo] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StatusMapping:
        """Build from ``{"statuses": {local: code}}`` or a bare ``{local: code}``; bad entries raise."""
        if not isinstance(data, Mapping):
            raise StatusMappingError(f"status mapping must be a mapping, got {type(data).__name__}")
        raw = data["statuses"] if "statuses" in data else data
        if not isinstance(raw, Mapping) or not raw:
            raise StatusMappingError("status mapping is empty: list at least one local status under 'statuses'")
        table: dict[str, TrangThaiHoSo] = {}
        for key, code in raw.items():
            if not isinstance(key, str) or not key.strip():
                raise StatusMappingError(f"local status must be a non-empty string, got {key!r}")
            if isinstance(code, bool) or not isinstance(code, int | str):
                raise StatusMappingError(f"status {key!r}: DVCQG code must be an integer 1–10, got {code!r}")
            try:
                table[key.strip()] = TrangThaiHoSo(int(code))
            except ValueError:
                raise StatusMappingError(f"status {key!r}: {code!r} is not a DVCQG TrangThaiHoSo code (1–10)") from None
        return cls(table)

    @classmethod
    def from_yaml(cls, text: str) -> StatusMapping:
        """Parse YAML text (safe loader only)."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise StatusMappingError(f"status mapping is not valid YAML: {exc}") from None
        if data is None:
            raise StatusMappingError("status mapping file is empty")
        return cls.from_dict(data)

    @classmethod
    def from_file(cls, path: str | Path) -> StatusMapping:
        """Load a YAML mapping file, naming the file in any error."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise StatusMappingError(f"cannot read status mapping {path}: {exc}") from None
        try:
            return cls.from_yaml(text)
        except StatusMappingError as exc:
            raise StatusMappingError(f"{path}: {exc}") from None

    def to_dvcqg(self, local_status: str, sub_status: str | None = None) -> TrangThaiHoSo:
        """The DVCQG code for a local status (sub-status first), or :class:`UnknownLocalStatusError`."""
        if sub_status:
            specific = self.table.get(f"{local_status}{SUB_STATUS_SEPARATOR}{sub_status}")
            if specific is not None:
                return specific
        code = self.table.get(local_status)
        if code is None:
            raise UnknownLocalStatusError(local_status, sub_status or None, list(self.table))
        return code

    def to_dict(self) -> dict[str, Any]:
        """The YAML/dict shape this mapping was loaded from."""
        return {"statuses": {key: int(code) for key, code in self.table.items()}}
