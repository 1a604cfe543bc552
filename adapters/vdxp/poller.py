"""Receiving from the axis, and keeping the agency directory in sync.

One round per registered agency: list what waits (``getReceivedEdocList``), and for each message fetch
it, parse and verify it, store it for the recipient DMS, and only THEN tell the axis ``done``. A crash
anywhere before the store commits leaves the message waiting on the axis (it is fetched again next
round); a crash after the commit but before ``done`` is recognised next round by the axis doc id, so
it is acknowledged without being stored twice. Copies of one packet (the axis delivering twice, a
sender retrying) are stored once, by (agency, SHA-256 of the packet).

A packet that cannot be accepted (not edXML, hard errors, a failed signature) is fetched again up to
``parse_attempts`` times — a fetch can be garbled in transit — then kept in ``documents_rejected`` for
an operator and reported ``fail`` to the axis, so it is neither lost nor fetched forever.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Engine

from adapters.vdxp.client import AxisClient, ReceivedEdoc
from adapters.vdxp.errors import AxisError, AxisResponseTooLarge, PermanentAxisError
from adapters.vdxp.packets import inspect_packet
from lgsp.sdk import documents as store
from lgsp.sdk.documents import DEFAULT_MAX_PACKET_BYTES, PacketRejected, SignatureHook

log = structlog.get_logger("lgsp.documents")
POLL_PATH = "/axis/getEdoc"


@dataclass
class RoundReport:
    listed: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    acknowledged: int = 0
    errors: list[str] = field(default_factory=list)


class ReceivingPoller:
    #: Set by the runner: once set, a round stops after the message in hand (clean shutdown).
    stop: asyncio.Event | None = None

    def __init__(self, engine: Engine, client: AxisClient, agencies: tuple[str, ...] = (), *,
                 signature_hook: SignatureHook | None = None, parse_attempts: int = 3,
                 max_packet_bytes: int = DEFAULT_MAX_PACKET_BYTES, fetch: str = "download") -> None:
        self.engine = engine
        self.client = client
        self.agencies = agencies
        self.signature_hook = signature_hook
        self.parse_attempts = max(1, parse_attempts)
        self.max_packet_bytes = max_packet_bytes
        #: ``download`` (the file as is: one copy of a 67 MB packet) or ``get`` (base64 inside JSON)
        self.fetch = fetch

    async def run_once(self) -> RoundReport:
        """One round over every agency (or, with no agencies configured, everything the system may receive)."""
        report = RoundReport()
        for agency in self.agencies or (None,):
            try:
                items = await self.client.list_received(to=agency)
            except AxisError as exc:
                report.errors.append(f"list {agency or '*'}: {exc}")
                continue
            report.listed += len(items)
            for item in items:
                if self.stop is not None and self.stop.is_set():
                    return report
                try:
                    await self._receive(item, report)
                except AxisError as exc:  # the axis or the network: the message waits for the next round
                    report.errors.append(f"{item.doc_id}: {exc}")
                except Exception as exc:  # this message could not be stored: it waits, the others go on
                    # (it used to end the round, so one message the store refused blocked every later one)
                    if store.is_store_wait(exc):  # a lock someone holds (LOCK TABLE, a migration): next round
                        log.warning("store busy; the message stays on the axis", axis_doc_id=item.doc_id,
                                    error=store.describe_failure(exc))
                    else:
                        log.exception("incoming message not stored; it stays on the axis", axis_doc_id=item.doc_id)
                    report.errors.append(f"{item.doc_id}: {type(exc).__name__}: {str(exc)[:300]}")
        if report.listed or report.errors:
            log.info("receiving round", listed=report.listed, stored=report.stored, duplicates=report.duplicates,
                     rejected=report.rejected, acknowledged=report.acknowledged, errors=len(report.errors))
        return report

    async def run_forever(self, stop: asyncio.Event, every_seconds: float) -> None:
        log.info("receiving poller started", agencies=list(self.agencies) or ["*"])
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:  # the store is down: keep the process, try again next round
                if store.is_store_wait(exc):
                    log.warning("store busy; receiving again next round", error=store.describe_failure(exc))
                else:
                    log.exception("receiving round failed")
            try:
                await asyncio.wait_for(stop.wait(), every_seconds)
            except TimeoutError:
                pass
        log.info("receiving poller stopped")

    async def _receive(self, item: ReceivedEdoc, report: RoundReport) -> None:
        earlier = await asyncio.to_thread(store.already_kept, self.engine, item.doc_id)
        if earlier is not None:  # stored (or rejected) before a crash cut the acknowledgement off
            await self._ack(item, "fail" if earlier == "rejected" else "done", report)
            return
        started = time.perf_counter()
        data = b""
        reason: PacketRejected | None = None
        for _ in range(self.parse_attempts):
            try:
                data = await self._fetch(item.doc_id)
            except AxisResponseTooLarge as exc:  # refused unread: fetching again brings the same, keeping it
                reason, data = PacketRejected("edxml-too-large", exc.message), b""  # would store it whole
                break
            try:
                facts = await asyncio.to_thread(inspect_packet, data, max_bytes=self.max_packet_bytes,
                                                signature_hook=self.signature_hook)
            except PacketRejected as exc:
                reason = exc
                continue
            reason = None
            break
        if reason is not None:
            message = f"{reason.code}: {reason.message}" + (f" (at {reason.path})" if reason.path else "")
            await asyncio.to_thread(store.keep_rejected, self.engine, item.to, item.doc_id, item.from_, message,
                                    data)
            log.warning("incoming packet rejected", axis_doc_id=item.doc_id, sender=item.from_, reason=message)
            report.rejected += 1
            await self._ack(item, "fail", report)
            return
        agency = item.to or (facts.recipients[0] if facts.recipients else "")

        def audit(doc_id: str) -> dict[str, Any]:
            return {"time": datetime.now(UTC), "message_id": doc_id, "correlation_id": item.doc_id,
                    "client": f"axis:{self.client.system_id}", "service": None, "method": "POST",
                    "path": POLL_PATH, "user_id": None, "status": 200,
                    "latency_us": int((time.perf_counter() - started) * 1_000_000),
                    "request_sha256": None, "response_sha256": facts.sha256,
                    "problem_type": None,
                    "extra": {"direction": "in", "kind": facts.kind, "agency": agency, "from": facts.sender,
                              "axis_doc_id": item.doc_id, "document_id": facts.document_id[:200]}}

        kept = await asyncio.to_thread(store.keep_incoming, self.engine, agency, item.doc_id, data, facts, audit)
        if kept.new:
            report.stored += 1
            log.info("document received", id=kept.id, axis_doc_id=item.doc_id, kind=facts.kind, agency=agency,
                     sender=facts.sender)
        else:
            report.duplicates += 1
        await self._ack(item, "done", report)

    async def _fetch(self, doc_id: str) -> bytes:
        """``downloadEdoc`` (raw bytes); ``getEdoc`` when so configured or when the axis has no download."""
        if self.fetch == "download":
            try:
                return await self.client.download_edoc(doc_id)
            except PermanentAxisError as exc:
                if exc.status not in (404, 405, 501):
                    raise
                log.info("downloadEdoc unavailable, using getEdoc", axis_doc_id=doc_id, status=exc.status)
        return await self.client.get_edoc(doc_id)

    async def _ack(self, item: ReceivedEdoc, status: str, report: RoundReport) -> None:
        await self.client.update_status(item.doc_id, "done" if status == "done" else "fail")
        report.acknowledged += 1


async def sync_directory(engine: Engine, client: AxisClient) -> int:
    """Replace the local copy of the axis agency directory; returns how many agencies it now holds."""
    agencies = await client.list_agencies()
    if not agencies:  # an empty answer is far likelier a fault than a country without agencies
        raise AxisError("getAgenciesList returned no agency; keeping the previous directory")
    count = await asyncio.to_thread(store.replace_directory, engine, agencies)
    log.info("agency directory synced", agencies=count)
    return count
