"""``lgsp documents sync-directory|poll|rejected``: the operator's handles on the document exchange.

The worker does the same on a schedule; these let an operator refresh the agency directory after the
axis operator registered a new agency, run one receiving round now, and look at packets lgsp refused.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from adapters.vdxp.handler import make_client
from adapters.vdxp.poller import ReceivingPoller, sync_directory
from adapters.vdxp.settings import VdxpSettings
from lgsp.sdk.cli import console, engine_from_settings, fail
from lgsp.sdk.documents import load_hook, max_packet_bytes, receiving_agencies, rejected_packets

app = typer.Typer(help="Official documents (edXML over the national axis).", no_args_is_help=True)


def _settings() -> VdxpSettings:
    try:
        settings = VdxpSettings.from_env()
    except ValueError as exc:
        fail(str(exc), 2)
    if settings is None:
        fail("the axis is not configured (LGSP_VDXP_URL, LGSP_VDXP_SYSTEM_ID, LGSP_VDXP_SECRET)", 2)
    return settings


@app.command("sync-directory")
def sync_directory_cmd() -> None:
    """Fetch the agency directory from the axis now (recipients are checked against it)."""
    settings, engine = _settings(), engine_from_settings()

    async def run() -> int:
        client = make_client(settings)
        try:
            return await sync_directory(engine, client)
        finally:
            await client.aclose()

    try:
        console.print(f"{asyncio.run(run())} agencies in the directory")
    except Exception as exc:
        fail(f"directory sync failed: {exc}")


@app.command("poll")
def poll_cmd() -> None:
    """Run one receiving round now (store what waits on the axis, then acknowledge it)."""
    settings, engine = _settings(), engine_from_settings()

    async def run() -> object:
        client = make_client(settings)
        try:
            agencies = receiving_agencies(engine)  # the registry's, not LGSP_VDXP_AGENCIES
            if not agencies:
                fail("no agency has a documents object grant in the registry: nothing to receive for")
            poller = ReceivingPoller(engine, client, agencies, signature_hook=load_hook(),
                                     parse_attempts=settings.parse_attempts, max_packet_bytes=max_packet_bytes(),
                                     fetch=settings.fetch)
            return await poller.run_once()
        finally:
            await client.aclose()

    report = asyncio.run(run())
    console.print(report)


@app.command("rejected")
def rejected_cmd(limit: Annotated[int, typer.Option("-n", "--limit", min=1, max=1_000_000)] = 50) -> None:
    """Incoming packets lgsp refused (reported ``fail`` to the axis), newest first, as JSON lines."""
    for row in rejected_packets(engine_from_settings(), limit):
        print(json.dumps(row, ensure_ascii=False))
