"""Configuration of the axis simulator: registered systems, the agency directory, clock rules, faults.

Secrets live only in the configuration given at construction (tests generate them; the demo writes a
throw-away file), never in the repository. Faults are plain data so the admin endpoint can change them
at run time and a test can state exactly which failures it wants.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

ANY_AGENCY = "*"


@dataclass
class SystemCredential:
    """A connected system (e.g. the Cần Thơ LGSP) and the agencies it may send and receive for."""

    system_id: str
    secret: str
    agencies: list[str] = field(default_factory=lambda: [ANY_AGENCY])

    def may_act_for(self, agency: str) -> bool:
        return ANY_AGENCY in self.agencies or agency in self.agencies


@dataclass
class DirectoryEntry:
    code: str
    name: str
    id: str = ""
    pid: str = ""
    mail: str = ""
    old_code: str = ""
    code102: str = ""
    mobile: str = ""
    fax: str = ""

    def as_axis_json(self) -> dict[str, str]:
        return {
            "id": self.id or self.code,
            "pid": self.pid,
            "code": self.code,
            "name": self.name,
            "mail": self.mail,
            "oldCode": self.old_code,
            "code102": self.code102 or self.code,
        }


@dataclass
class Faults:
    """Injected failures; probabilities are per request in [0, 1]."""

    #: answer 503 before doing anything
    error_rate: float = 0.0
    #: sendEdoc/updateStatus commit, then answer 503 anyway (the client retries → duplicates)
    error_after_commit_rate: float = 0.0
    #: delay every answer by this many milliseconds (with probability ``slow_rate``)
    slow_ms: int = 0
    slow_rate: float = 1.0
    #: queue an accepted packet twice for each recipient
    duplicate_rate: float = 0.0
    #: getEdoc returns the packet with garbage bytes before ``<?xml``
    malformed_fetch_rate: float = 0.0
    #: added to the simulator's clock, to make clients' timestamps look stale
    clock_offset_s: float = 0.0
    #: seed of the fault random generator (None = nondeterministic)
    seed: int | None = None

    def validate(self) -> None:
        for name in (
            "error_rate",
            "error_after_commit_rate",
            "slow_rate",
            "duplicate_rate",
            "malformed_fetch_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"faults.{name} must be between 0 and 1, not {value!r}")
        if self.slow_ms < 0:
            raise ValueError("faults.slow_ms must be >= 0")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Faults:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        faults = cls(**dict(data))
        faults.validate()
        return faults

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SimulatorConfig:
    systems: list[SystemCredential]
    agencies: list[DirectoryEntry] = field(default_factory=list)
    #: allowed distance between a request's signed timestamp and the clock; None disables the check
    max_clock_skew_s: float | None = 300.0
    #: token for ``/_admin/*`` (header ``X-Simulator-Admin-Token``); None leaves admin open (127.0.0.1 only)
    admin_token: str | None = None
    #: 100 MB: a 50 MB attachment is ~67 MB as base64. Real gateways may cap .edxml at 50 MB (PROTOCOLS.md §1.5):
    #: set this to 52428800 to rehearse that.
    max_packet_bytes: int = 100 * 1024 * 1024
    faults: Faults = field(default_factory=Faults)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SimulatorConfig:
        systems = [SystemCredential(**s) for s in data.get("systems", [])]
        if not systems:
            raise ValueError("the simulator needs at least one system (system_id + secret)")
        for system in systems:
            if not system.system_id or not system.secret:
                raise ValueError("every system needs a non-empty system_id and secret")
        return cls(
            systems=systems,
            agencies=[DirectoryEntry(**a) for a in data.get("agencies", [])],
            max_clock_skew_s=data.get("max_clock_skew_s", 300.0),
            admin_token=data.get("admin_token"),
            max_packet_bytes=int(data.get("max_packet_bytes", 100 * 1024 * 1024)),
            faults=Faults.from_mapping(data.get("faults", {})),
        )

    @classmethod
    def load(cls, path: str | Path) -> SimulatorConfig:
        """Read a JSON or YAML file (by extension; YAML otherwise)."""
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the configuration must be a mapping")
        return cls.from_mapping(data)


def example_config() -> dict[str, Any]:
    """A ready-to-run configuration with freshly generated secrets (for the demo and manual trials).

    The agency codes are examples in the QCVN 102 shape; Cần Thơ's real codes after the 2025 merger are
    not confirmed (PROTOCOLS.md §1.9), so a deployment loads them from the axis directory instead.
    """
    import secrets

    return {
        "systems": [
            {"system_id": "lgsp-cantho", "secret": secrets.token_hex(32),
             "agencies": ["000.00.12.H10", "000.00.02.H10"]},
            {"system_id": "national-peer", "secret": secrets.token_hex(32), "agencies": ["000.00.00.G22"]},
        ],
        "agencies": [
            {"code": "000.00.12.H10", "name": "Sở Thông tin và Truyền thông (ví dụ)"},
            {"code": "000.00.02.H10", "name": "Sở Nội vụ (ví dụ)"},
            {"code": "000.00.00.G22", "name": "Văn phòng Chính phủ"},
        ],
        "max_clock_skew_s": 300,
        "admin_token": secrets.token_hex(16),
        "faults": Faults().as_dict(),
    }  # fmt: skip
