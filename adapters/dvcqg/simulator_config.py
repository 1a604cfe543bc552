"""What the DVCQG simulator accepts and answers: its configuration, its error codes (our choice [I], the
portal's list is not public) and the faults it can inject (see :mod:`adapters.dvcqg.simulator`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from . import seed

OK = "00"

BAD_CREDENTIALS = 1

SESSION_INVALID = "02"

INVALID_DATA = "03"

UNKNOWN_SERVICE = "04"

BAD_AGENCY = "05"

STATE_CONFLICT = "06"

INJECTED = "99"

LOGIN = "login"

FaultKind = Literal["http_status", "error_code", "delay", "html", "expire_session"]


@dataclass
class SimulatorConfig:
    """What the simulated portal accepts; credentials come from the caller (tests generate them)."""

    username: str
    password: str = field(repr=False)
    madonvi: str | None = None  # when set, calls for another agency are refused ("05")
    session_ttl: float = 1800.0  # seconds a session stays valid
    auth_path: str = "/auth"
    integration_path: str = "/integration"
    share_path: str = "/share"
    strict_is_updating: bool = True  # [I] refuse isUpdating that contradicts what is stored
    procedures: list[dict[str, Any]] = field(default_factory=seed.procedures)
    catalogues: dict[str, list[dict[str, Any]]] = field(default_factory=seed.catalogues)
    clock: Callable[[], float] = time.monotonic
    control_api: bool = True

    def __post_init__(self) -> None:
        if not self.username or not self.password:
            raise ValueError("simulator needs a non-empty username and password")
        if self.session_ttl <= 0:
            raise ValueError("session_ttl must be positive")


@dataclass
class Fault:
    """One injected misbehaviour, applied to the next ``times`` matching requests (None = until cleared).

    ``services`` limits it to some service names (``"login"`` for the auth endpoint); None = every request.
    """

    kind: FaultKind
    times: int | None = 1
    status: int = 503
    error_code: str = INJECTED
    message: str = "Lỗi hệ thống (giả lập)"
    delay: float = 0.0
    services: frozenset[str] | None = None

    def matches(self, service: str) -> bool:
        return self.services is None or service in self.services

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        kinds = ("http_status", "error_code", "delay", "html", "expire_session")
        if data.get("kind") not in kinds:
            raise ValueError(f"fault kind must be one of {', '.join(kinds)}")
        services = data.get("services")
        times = data.get("times", 1)
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise ValueError("times must be a positive integer or null (until cleared)")
        if services is not None and not (isinstance(services, list) and all(isinstance(x, str) for x in services)):
            raise ValueError('services must be a list of service names ("login" for the auth endpoint)')
        return cls(
            kind=data["kind"],
            times=times,
            status=int(data.get("status", 503)),
            error_code=str(data.get("error_code", INJECTED)),
            message=str(data.get("message", "Lỗi hệ thống (giả lập)")),
            delay=float(data.get("delay", 0.0)),
            services=frozenset(services) if services is not None else None,
        )


class _Refusal(Exception):
    """A business-level refusal, answered with HTTP 200 and a non-"00" error_code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
