"""`lgsp usage`: every traffic limit, who it applies to and how much of it is used right now.

Reads the same counters the gateways write (the store or Redis, per LGSP_TRAFFIC_BACKEND), so an operator
sees what a caller will meet. With the memory backend counters live inside each gateway process and cannot be
read from here; the command says so instead of printing zeros.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.table import Table

from lgsp.cli.common import console, fail
from lgsp.settings import Settings
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.traffic.backends import BackendUnavailable, build_backend
from lgsp.traffic.limiter import TrafficLimiter
from registry.snapshot import load_snapshot
from registry.traffic_policy import ALL_CALLERS, EACH_CLIENT


def usage_rows(settings: Settings, service: str | None = None, system: str | None = None) -> list[dict[str, Any]]:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    try:
        backend = build_backend(settings.traffic_backend, engine, settings.redis_url)
    except ValueError as exc:  # LGSP_TRAFFIC_BACKEND or LGSP_REDIS_URL: a FAIL line, not a traceback
        engine.dispose()
        fail(str(exc), code=2)
    if backend.name == "memory":
        fail("LGSP_TRAFFIC_BACKEND=memory keeps counters inside each gateway process; use store or redis "
             "to read usage from outside", code=4)
    snapshot = load_snapshot(engine)
    limiter = TrafficLimiter(backend, fail_open_rates=True, fail_open_quotas=True)
    rows: list[dict[str, Any]] = []

    async def collect() -> None:
        for (client, service_id), limit in sorted(snapshot.limits.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if service and service_id != service:
                continue
            if client == EACH_CLIENT:  # one counter per granted client system
                scopes = sorted({c for c, s in snapshot.grants if s == service_id})
            elif client == ALL_CALLERS:
                scopes = ["(all callers)"]
            else:
                scopes = [client]
            for scope in scopes:
                if system and scope not in (system, "(all callers)"):
                    continue
                for _, state in await limiter.usage([limit], scope):
                    rows.append({"service": service_id, "scope": scope, "limit": state.name, "quota": state.quota,
                                 "used": state.quota - state.remaining, "remaining": state.remaining,
                                 "resets_in_seconds": round(max(state.reset_seconds, 0.0), 1)})
        await backend.close()

    try:
        asyncio.run(collect())
    except BackendUnavailable as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    return rows


def usage_command(
    service: Annotated[str | None, typer.Option(help="Only this service id.")] = None,
    system: Annotated[str | None, typer.Option(help="Only this client system id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show traffic limits and their current use (rate, quota, concurrency) per service and caller."""
    rows = usage_rows(Settings.load(), service, system)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        console.print("no traffic limits declared")
        return
    table = Table("service", "caller", "limit", "used", "of", "resets in (s)")
    for row in rows:
        table.add_row(row["service"], row["scope"], row["limit"], str(row["used"]), str(row["quota"]),
                      str(row["resets_in_seconds"]))
    console.print(table)
