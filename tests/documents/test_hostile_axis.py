"""The receiving poller against an axis that misbehaves: oversized downloads and garbled listings.

The axis here is a real HTTP server on 127.0.0.1 written for these cases (not the simulator, which only
ever answers well). Before: a download was read whole whatever its size — 64 MB with a 1 MB limit went
into memory and then, as a rejected packet, into the store — and a listing whose ``data`` was a number
raised a TypeError out of the round, so the agencies after it were not polled at all.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from adapters.vdxp.client import AxisClient
from adapters.vdxp.errors import RetryableAxisError
from adapters.vdxp.poller import ReceivingPoller, RoundReport
from lgsp.documents.models import RejectedPacket
from lgsp.testing.servers import RunningServer, start_server
from tests.documents.conftest import PEER, SENDER, Stack

MB = 1024 * 1024
GARBLED = "000.00.77.H10"  # its listing's `data` is a number
OK = {"status": "OK", "ErrorCode": "0", "ErrorDesc": ""}


@dataclass
class Hostile:
    doc_id: str
    acks: list[tuple[str, str]] = field(default_factory=list)


def hostile_app(state: Hostile) -> Starlette:
    async def listing(request: Request) -> Response:
        to = request.headers.get("xroadvnpt-to", "")
        if to == GARBLED:
            return JSONResponse({**OK, "data": 5})
        return JSONResponse({**OK, "data": [{"docId": state.doc_id, "from": PEER, "to": to, "status": "initial",
                                             "messageType": "edoc"}]})

    async def download(request: Request) -> Response:
        async def endless_packet() -> AsyncIterator[bytes]:  # 64 MB, chunked: no length to refuse up front
            yield b"<?xml version='1.0'?><edXMLEnvelope>"
            for _ in range(64):
                yield b"A" * MB

        return StreamingResponse(endless_packet(), media_type="application/octet-stream")

    async def update_status(request: Request) -> Response:
        state.acks.append((request.headers.get("xroadvnpt-docid", ""), request.headers.get("xroadvnpt-status", "")))
        return JSONResponse(OK)

    return Starlette(routes=[Route("/getReceivedEdocList", listing, methods=["POST"]),
                             Route("/downloadEdoc", download, methods=["POST"]),
                             Route("/updateStatus", update_status, methods=["POST"])])


@pytest.fixture
def hostile(docs: Stack) -> Iterator[tuple[Hostile, RunningServer]]:
    state = Hostile(doc_id=f"hostile-{uuid.uuid4().hex}")
    server = start_server(hostile_app(state))
    try:
        yield state, server
    finally:
        server.stop()


def _poll(docs: Stack, url: str, agencies: list[str]) -> RoundReport:
    async def run() -> RoundReport:
        client = AxisClient(url, "vpcp-lgsp", "s3cret", max_packet_bytes=1 * MB)
        try:
            return await ReceivingPoller(docs.engine, client, agencies, max_packet_bytes=1 * MB).run_once()
        finally:
            await client.aclose()

    return asyncio.run(run())


def _rejected_size(docs: Stack, doc_id: str) -> int | None:
    with docs.engine.connect() as conn:
        return conn.scalar(select(func.length(RejectedPacket.packet)).where(RejectedPacket.axis_doc_id == doc_id))


def test_an_oversized_download_is_cut_off_and_kept_as_rejected_without_its_bytes(
        docs: Stack, hostile: tuple[Hostile, RunningServer]) -> None:
    state, server = hostile
    report = _poll(docs, server.url, [SENDER])
    assert report.rejected == 1, report
    assert _rejected_size(docs, state.doc_id) == 0  # the refused bytes are not kept
    with docs.engine.connect() as conn:
        reason = conn.scalar(select(RejectedPacket.reason).where(RejectedPacket.axis_doc_id == state.doc_id))
    # reading stopped at the answer limit (the packet limit, as base64 in JSON, plus 1 MiB), not at 64 MB
    assert str(reason).startswith("edxml-too-large") and f"over {MB * 4 // 3 + MB} bytes" in str(reason)
    assert state.acks == [(state.doc_id, "fail")]  # the sender learns; it is not fetched round after round


def test_a_garbled_listing_of_one_agency_does_not_stop_the_others(
        docs: Stack, hostile: tuple[Hostile, RunningServer]) -> None:
    _, server = hostile
    report = _poll(docs, server.url, [GARBLED, SENDER])
    errors = report.errors
    assert len(errors) == 1 and GARBLED in errors[0] and "not a list" in errors[0], errors
    assert report.listed == 1 and report.rejected == 1  # SENDER's message was handled


async def test_the_listing_data_must_be_a_list() -> None:
    state = Hostile(doc_id="x")
    server = start_server(hostile_app(state))
    try:
        async with AxisClient(server.url, "vpcp-lgsp", "s3cret") as client:
            with pytest.raises(RetryableAxisError) as info:
                await client.list_received(to=GARBLED)
            assert info.value.error_code == "bad-response"
            assert await client.list_received(to=SENDER) != []
    finally:
        server.stop()
