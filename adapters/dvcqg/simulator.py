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

This module is the HTTP side (routes, sessions, injected faults, control API, CLI); the configuration,
codes and faults are in ``simulator_config``, what the services do in ``simulator_services``.

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
from collections import Counter
from dataclasses import asdict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .codes import READ_SERVICES, WRITE_SERVICES
from .simulator_config import (
    BAD_AGENCY,
    BAD_CREDENTIALS,
    INVALID_DATA,
    LOGIN,
    OK,
    SESSION_INVALID,
    UNKNOWN_SERVICE,
    Fault,
    SimulatorConfig,
    _Refusal,
)
from .simulator_config import INJECTED as INJECTED
from .simulator_config import STATE_CONFLICT as STATE_CONFLICT
from .simulator_config import FaultKind as FaultKind
from .simulator_services import PortalServices


class DvcqgSimulator(PortalServices):
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
