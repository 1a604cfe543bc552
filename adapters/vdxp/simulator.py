"""A real HTTP simulator of the national document-exchange axis (VNPT VXP REST, PROTOCOLS.md §2.1, §7).

It verifies the HMAC headers, the timestamp's freshness and ``hash-file``; parses every packet with our
tolerant edXML reader; queues packets per recipient agency (one receiver doc id per recipient, as
``getSentEdocList``'s senderDocId/receiverDocId suggest); keeps status packets and each document's
status history; and can inject faults (503s, slow answers, duplicate delivery, malformed packets on
fetch, a skewed clock) set in the configuration or at run time through ``/_admin/faults``.

This module is the app and its plumbing (HMAC check, injected faults, admin routes, CLI); the state is in
``simulator_state``, the operations in ``simulator_edocs`` and ``simulator_agencies``.

Run standalone (the demo does)::

    python -m adapters.vdxp.simulator --port 8701 --config sim.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import hmac_auth
from .simulator_agencies import delete_agency, get_agencies, get_synchronize_unit, register_agency
from .simulator_config import Faults, SimulatorConfig, example_config
from .simulator_edocs import (
    count_edoc,
    count_status,
    download_edoc,
    get_edoc,
    get_received_list,
    get_sent_list,
    send_edoc,
    update_status,
)
from .simulator_edocs import count_received as count_received
from .simulator_state import ADMIN_TOKEN_HEADER, AxisFault, AxisState, Handler, _clock, _fail
from .simulator_state import QUEUE_STATUSES as QUEUE_STATUSES
from .simulator_state import QueuedMessage as QueuedMessage
from .simulator_state import SentRecord as SentRecord
from .simulator_state import StatusEvent as StatusEvent


def _endpoint(handler: Handler, required: tuple[str, ...] = ()) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: AxisState = request.app.state.axis
        with state.lock:
            state.request_count += 1
        faults = state.faults
        if faults.slow_ms and state.roll(faults.slow_rate, "slow"):
            await asyncio.sleep(faults.slow_ms / 1000)
        try:
            if state.roll(faults.error_rate, "error"):
                raise AxisFault(503, "INJECTED_FAULT", "injected failure (service unavailable)")
            skew = state.config.max_clock_skew_s
            try:
                verified = hmac_auth.verify(
                    request.headers,
                    state.secrets(),
                    now=_clock(state),
                    max_skew=None if skew is None else timedelta(seconds=skew),
                    required=("systemid", *required),
                )
            except hmac_auth.HmacAuthError as exc:
                raise AxisFault(401, exc.code, exc.message) from exc
            return await handler(request, state, verified)
        except AxisFault as fault:
            return _fail(fault)

    return endpoint


def _admin(
    handler: Callable[[Request, AxisState], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: AxisState = request.app.state.axis
        token = state.config.admin_token
        if token is not None and request.headers.get(ADMIN_TOKEN_HEADER) != token:
            return JSONResponse({"error": "admin token required"}, 401)
        return await handler(request, state)

    return endpoint


async def admin_state(request: Request, state: AxisState) -> Response:
    return JSONResponse(state.snapshot())


async def admin_faults(request: Request, state: AxisState) -> Response:
    if request.method == "PUT":
        try:
            data = await request.json()
            merged = {**state.faults.as_dict(), **data} if request.query_params.get("merge") else data
            faults = Faults.from_mapping(merged)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        with state.lock:
            state.faults = faults
            state.rng = random.Random(faults.seed)
    return JSONResponse(state.faults.as_dict())


async def admin_reset(request: Request, state: AxisState) -> Response:
    state.reset()
    return JSONResponse({"reset": True})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "OK"})


def create_simulator_app(config: SimulatorConfig | Mapping[str, Any]) -> Starlette:
    """The simulator as an ASGI app; ``app.state.axis`` is its :class:`AxisState`."""
    if not isinstance(config, SimulatorConfig):
        config = SimulatorConfig.from_mapping(config)
    config.faults.validate()
    ops: list[tuple[str, Handler, tuple[str, ...]]] = [
        ("sendEdoc", send_edoc, ("from", "messagetype", "hash-file")),
        ("getReceivedEdocList", get_received_list, ()),
        ("getEdoc", get_edoc, ("docId",)),
        ("downloadEdoc", download_edoc, ("docId",)),
        ("updateStatus", update_status, ("docId", "status")),
        ("getSentEdocList", get_sent_list, ()),
        ("countReceiveEdoc", count_edoc, ()),
        ("countReceiveStatus", count_status, ()),
        ("getAgenciesList", get_agencies, ()),
        ("getAgenciesListQD20", get_agencies, ()),
        ("getSynchronizeUnit", get_synchronize_unit, ()),
        ("registerAgency", register_agency, ()),
        ("deleteAgency", delete_agency, ("AgencyCode",)),
    ]
    routes = [Route(f"/{name}", _endpoint(handler, required), methods=["POST"]) for name, handler, required in ops]
    routes[3] = Route("/downloadEdoc", _endpoint(download_edoc, ("docId",)), methods=["GET", "POST"])
    routes += [
        Route("/_admin/health", health, methods=["GET"]),
        Route("/_admin/state", _admin(admin_state), methods=["GET"]),
        Route("/_admin/faults", _admin(admin_faults), methods=["GET", "PUT"]),
        Route("/_admin/reset", _admin(admin_reset), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.axis = AxisState(config)
    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from lgsp.sdk.simulator import run_uvicorn, shutdown

    shutdown.install()  # SIGTERM from here on ends in exit 0 (see lgsp.shutdown)
    parser = argparse.ArgumentParser(description="Simulator of the national document-exchange axis (VXP REST)")
    parser.add_argument("--config", required=True, help="YAML or JSON file: systems, agencies, faults")
    parser.add_argument(
        "--init-config",
        action="store_true",
        help="write an example --config with generated secrets (mode 0600) and exit",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if args.init_config:
        path = Path(args.config)
        if path.exists():
            parser.error(f"{path} exists; refusing to overwrite secrets")
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(example_config(), allow_unicode=True, sort_keys=False), encoding="utf-8")
        print(f"wrote {path}")
        return
    if args.port is None:
        parser.error("--port is required")
    app = create_simulator_app(SimulatorConfig.load(args.config))
    run_uvicorn(uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level))


if __name__ == "__main__":
    main()
