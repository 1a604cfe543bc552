"""A DVCQG (National Public Service Portal) simulator: a real Starlette app speaking §4's protocol.

It is strict on purpose: it refuses what the portal's guide says it refuses (missing required fields,
dates not in ``yyyyMMddHHmmss``, status codes outside 1–10, a session that expired), keeps what was
synced so ``TraCuuHoSo`` reflects it, serves seeded catalogues, and injects faults on request so the
client's retry/dead-letter behaviour can be exercised over real HTTP.

The protocol envelope is [C] (S-OCPS); the simulator's own error codes are our choice [I] because the
portal's code list is not public ([U]): "01" bad credentials (login answers numerically, like its
success 0), "02" session missing/expired, "03" invalid data (message names the field), "04" unknown
service, "05" missing/wrong ``madonvi``, "06" dossier state conflict (``isUpdating`` disagrees with what
is stored, progress for an unknown dossier), "99" injected failure.

Run it: ``python -m adapters.dvcqg.simulator --port 8089`` (credentials from ``DVCQG_SIM_USERNAME`` /
``DVCQG_SIM_PASSWORD``, generated and printed when unset). Control API under ``/_sim/`` (local use only).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import os
import secrets
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from . import seed
from .codes import (
    CAP_NHAT_TIEN_DO_HO_SO_MC,
    CATALOGUE_SERVICES,
    DONG_BO_HO_SO_MC,
    LAY_DANH_SACH_TTHC,
    LAY_THU_TUC,
    READ_SERVICES,
    TRA_CUU_HO_SO,
    WRITE_SERVICES,
    decode_is_updating,
)
from .errors import DossierValidationError, FieldProblem
from .models import validate_dossier, validate_progress

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


class DvcqgSimulator:
    """State and behaviour of one simulated portal; ``app`` is the ASGI application serving it.

    Tests may inspect/modify state from another thread than the server's, hence the lock.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self.sessions: dict[str, float] = {}
        self.dossiers: dict[str, dict[str, Any]] = {}
        self.progress: dict[str, list[dict[str, Any]]] = {}
        self.calls: Counter[str] = Counter()
        self.logins = 0
        self.faults: list[Fault] = []
        self._procedures = {p["MATTHC"]: p for p in config.procedures}
        self.app = self._build_app()

    # ---- control (in-process and over /_sim/) --------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def expire_sessions(self) -> None:
        """Force every issued session to expire now, as if its TTL had passed."""
        with self._lock:
            self.sessions.clear()

    def reset(self) -> None:
        with self._lock:
            self.sessions.clear()
            self.dossiers.clear()
            self.progress.clear()
            self.calls.clear()
            self.faults.clear()
            self.logins = 0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "logins": self.logins,
                "calls": dict(self.calls),
                "sessions": len(self.sessions),
                "dossiers": json.loads(json.dumps(self.dossiers)),
                "progress": json.loads(json.dumps(self.progress)),
                "faults": [asdict(f) | {"services": sorted(f.services or [])} for f in self.faults],
            }

    def _take_fault(self, service: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(service):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    # ---- HTTP plumbing -------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        cfg = self.config
        routes = [
            Route(cfg.auth_path, self._login, methods=["POST"]),
            Route(cfg.integration_path, self._integration, methods=["POST"]),
            Route(cfg.share_path, self._share, methods=["POST"]),
        ]
        if cfg.control_api:
            routes += [
                Route("/_sim/state", self._ctl_state, methods=["GET"]),
                Route("/_sim/faults", self._ctl_add_fault, methods=["POST"]),
                Route("/_sim/faults", self._ctl_clear_faults, methods=["DELETE"]),
                Route("/_sim/expire-sessions", self._ctl_expire, methods=["POST"]),
                Route("/_sim/reset", self._ctl_reset, methods=["POST"]),
            ]
        app = Starlette(routes=routes)
        app.state.simulator = self
        return app

    @staticmethod
    def _answer(code: str | int, message: str, **extra: Any) -> JSONResponse:
        return JSONResponse({"error_code": code, "message": message, **extra})

    @staticmethod
    async def _json_object(request: Request) -> dict[str, Any] | None:
        try:
            data = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    async def _apply_fault(self, service: str, session: str | None = None) -> Response | None:
        fault = self._take_fault(service)
        if fault is None:
            return None
        if fault.kind == "delay":
            await asyncio.sleep(fault.delay)
            return None
        if fault.kind == "expire_session":
            with self._lock:
                self.sessions.pop(session or "", None)
            return None
        if fault.kind == "http_status":
            return JSONResponse({"message": fault.message}, status_code=fault.status)
        if fault.kind == "html":
            return HTMLResponse("<html><body><h1>Hệ thống đang bảo trì</h1></body></html>")
        return self._answer(fault.error_code, fault.message)

    # ---- endpoints -----------------------------------------------------------------------------------

    async def _login(self, request: Request) -> Response:
        body = await self._json_object(request)
        if body is None:
            return JSONResponse({"error_code": INVALID_DATA, "message": "body must be a JSON object"}, 400)
        faulty = await self._apply_fault(LOGIN)
        if faulty is not None:
            return faulty
        username, password = body.get("username"), body.get("password")
        good = (
            isinstance(username, str)
            and isinstance(password, str)
            and hmac.compare_digest(username.encode(), self.config.username.encode())
            and hmac.compare_digest(password.encode(), self.config.password.encode())
        )
        if not good:
            return self._answer(BAD_CREDENTIALS, "Sai tên đăng nhập hoặc mật khẩu")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.sessions[token] = self.config.clock() + self.config.session_ttl
            self.logins += 1
        return JSONResponse({"session": token, "error_code": 0, "message": "Đăng nhập thành công"})

    async def _integration(self, request: Request) -> Response:
        return await self._service_call(request, allow_writes=True)

    async def _share(self, request: Request) -> Response:
        return await self._service_call(request, allow_writes=False)

    async def _service_call(self, request: Request, *, allow_writes: bool) -> Response:
        body = await self._json_object(request)
        if body is None:
            return JSONResponse({"error_code": INVALID_DATA, "message": "body must be a JSON object"}, 400)
        service = body.get("service")
        session = body.get("session")
        faulty = await self._apply_fault(str(service), session if isinstance(session, str) else None)
        if faulty is not None:
            return faulty
        try:
            self._check_session(session)
            self._check_agency(body.get("madonvi"))
            if not isinstance(service, str) or service not in READ_SERVICES | WRITE_SERVICES:
                raise _Refusal(UNKNOWN_SERVICE, f"service: unknown service {service!r}")
            if service in WRITE_SERVICES and not allow_writes:
                raise _Refusal(UNKNOWN_SERVICE, f"service: {service} is served on the integration endpoint")
            with self._lock:
                self.calls[service] += 1
            result = self._dispatch(service, body)
        except _Refusal as refusal:
            return self._answer(refusal.code, refusal.message)
        return self._answer(OK, "Thành công", result=result)

    def _check_session(self, session: Any) -> None:
        if not isinstance(session, str) or not session:
            raise _Refusal(SESSION_INVALID, "session: missing")
        with self._lock:
            expires_at = self.sessions.get(session)
            if expires_at is None:
                raise _Refusal(SESSION_INVALID, "session: invalid or expired, log in again")
            if self.config.clock() >= expires_at:
                del self.sessions[session]
                raise _Refusal(SESSION_INVALID, "session: expired, log in again")

    def _check_agency(self, madonvi: Any) -> None:
        if not isinstance(madonvi, str) or not madonvi.strip():
            raise _Refusal(BAD_AGENCY, "madonvi: required")
        if self.config.madonvi is not None and madonvi != self.config.madonvi:
            raise _Refusal(BAD_AGENCY, f"madonvi: {madonvi!r} is not the agency of this account")

    # ---- services ------------------------------------------------------------------------------------

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

    # ---- control endpoints ---------------------------------------------------------------------------

    async def _ctl_state(self, request: Request) -> Response:
        return JSONResponse(self.snapshot())

    async def _ctl_add_fault(self, request: Request) -> Response:
        body = await self._json_object(request)
        try:
            fault = Fault.from_json(body or {})
        except (ValueError, TypeError) as exc:
            return JSONResponse({"detail": str(exc)}, 422)
        self.add_fault(fault)
        return JSONResponse({"added": fault.kind}, 201)

    async def _ctl_clear_faults(self, request: Request) -> Response:
        self.clear_faults()
        return Response(status_code=204)

    async def _ctl_expire(self, request: Request) -> Response:
        self.expire_sessions()
        return Response(status_code=204)

    async def _ctl_reset(self, request: Request) -> Response:
        self.reset()
        return Response(status_code=204)


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


def create_simulator_app(config: SimulatorConfig) -> Starlette:
    """The ASGI app; its :class:`DvcqgSimulator` is at ``app.state.simulator``."""
    return DvcqgSimulator(config).app


def main(argv: list[str] | None = None) -> int:
    """Serve the simulator on 127.0.0.1; prints one JSON line with the URL (and generated credentials)."""
    import uvicorn

    from lgsp.sdk.simulator import run_uvicorn, shutdown

    shutdown.install()  # SIGTERM from here on ends in exit 0 (see lgsp.shutdown)
    parser = argparse.ArgumentParser(description="DVCQG portal simulator (for tests and demos)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port (printed on start)")
    parser.add_argument("--session-ttl", type=float, default=1800.0)
    parser.add_argument("--madonvi", default=None, help="only accept calls for this agency code")
    args = parser.parse_args(argv)

    username = os.environ.get("DVCQG_SIM_USERNAME")
    password = os.environ.get("DVCQG_SIM_PASSWORD")
    banner: dict[str, Any] = {}
    if not username or not password:
        username, password = "sim-" + secrets.token_hex(4), secrets.token_urlsafe(18)
        banner = {"username": username, "password": password, "generated": True}
    app = create_simulator_app(
        SimulatorConfig(username=username, password=password, madonvi=args.madonvi, session_ttl=args.session_ttl)
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    host, port = sock.getsockname()[:2]
    print(json.dumps({"url": f"http://{host}:{port}", **banner}), flush=True)
    run_uvicorn(uvicorn.Config(app, log_level="warning"), sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
