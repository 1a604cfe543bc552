"""The receiving poller and the directory sync inside ``lgsp worker`` (the adapter's ``worker_jobs``).

Like the delivery loop, they need a long-lived event loop (the axis client's HTTP pool), so they run in
a :class:`~lgsp.sdk.worker.LoopThread` that the worker's job keeps alive. Nothing is lost when the
process dies: a message is acknowledged on the axis only after it was committed here.
"""

from __future__ import annotations

import asyncio
from functools import partial

import structlog
from sqlalchemy import Engine

from adapters.vdxp.handler import make_client
from adapters.vdxp.poller import ReceivingPoller, sync_directory
from adapters.vdxp.settings import VdxpSettings
from lgsp.sdk.documents import load_hook, max_packet_bytes, receiving_agencies
from lgsp.sdk.worker import Job, LoopThread

log = structlog.get_logger("lgsp.documents")


async def run_receiving(engine: Engine, settings: VdxpSettings, stop: asyncio.Event) -> None:
    """Directory sync every ``directory_seconds`` and a receiving round every ``poll_seconds`` until ``stop``."""
    client = make_client(settings)
    poller = ReceivingPoller(engine, client, receiving_agencies(engine), signature_hook=load_hook(),
                             parse_attempts=settings.parse_attempts, max_packet_bytes=max_packet_bytes(),
                             fetch=settings.fetch)
    poller.stop = stop  # a round ends after the message in hand once a stop is requested
    next_sync = 0.0
    loop = asyncio.get_running_loop()
    if settings.agencies:
        log.warning("LGSP_VDXP_AGENCIES is ignored: lgsp receives for the agencies the registry grants "
                    "documents access to (object_grants)")
    log.info("document receiving started", agencies=list(poller.agencies))
    try:
        while not stop.is_set():
            if loop.time() >= next_sync:
                try:
                    await sync_directory(engine, client)
                    next_sync = loop.time() + settings.directory_seconds
                except Exception as exc:
                    log.warning("agency directory sync failed; retrying soon", error=str(exc))
                    next_sync = loop.time() + min(60.0, settings.directory_seconds)
            try:
                poller.agencies = await asyncio.to_thread(receiving_agencies, engine)  # registry changes apply
                if poller.agencies:  # nobody granted: receive nothing rather than everything
                    await poller.run_once()
            except Exception:
                log.exception("receiving round failed")
            try:
                await asyncio.wait_for(stop.wait(), settings.poll_seconds)
            except TimeoutError:
                pass
    finally:
        await client.aclose()
        log.info("document receiving stopped")


def document_jobs(engine: Engine, settings: object) -> list[Job]:
    """``AdapterInfo.worker_jobs`` of the vdxp adapter: nothing unless ``LGSP_VDXP_URL`` is configured."""
    try:
        vdxp = VdxpSettings.from_env()
    except ValueError as exc:
        log.error("document receiving disabled: bad LGSP_VDXP_* settings", error=str(exc))
        return []
    if vdxp is None:
        return []
    thread = LoopThread("lgsp-documents", partial(run_receiving, engine, vdxp))
    return [thread.job("documents-receiving")]
