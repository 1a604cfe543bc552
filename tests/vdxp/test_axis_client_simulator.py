"""AxisClient against the real simulator on 127.0.0.1: operations, HMAC failures, faults, error kinds."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping

import httpx
import pytest
from vdxp_factories import OTHER, RECIPIENT, SENDER, sample_document, sample_status
from vdxp_support import Axis

from adapters.vdxp.client import AxisClient, PermanentAxisError, RetryableAxisError
from adapters.vdxp.edxml import EdxmlError, StatusCode, read_document, read_status, write_document, write_status
from adapters.vdxp.simulator import ADMIN_TOKEN_HEADER
from adapters.vdxp.simulator_config import Faults
from adapters.vdxp.transport import AiohttpTransport, Body, TransportResponse, body_bytes
from lgsp.testing.servers import bind_socket


def lgsp(axis: Axis, **kwargs: object) -> AxisClient:
    return AxisClient(axis.url, axis.lgsp_id, axis.lgsp_secret, **kwargs)  # type: ignore[arg-type]


def vpcp(axis: Axis) -> AxisClient:
    return AxisClient(axis.url, axis.vpcp_id, axis.vpcp_secret)


async def test_document_out_and_status_back(axis: Axis) -> None:
    packet = write_document(sample_document())
    async with lgsp(axis) as sender, vpcp(axis) as receiver:
        sender_doc_id = await sender.send_edoc(packet)
        inbox = await receiver.list_received("edoc")
        assert [(m.from_, m.to, m.message_type, m.status) for m in inbox] == [(SENDER, RECIPIENT, "edoc", "initial")]
        assert await receiver.count_received("edoc") == 1
        assert await receiver.get_edoc(inbox[0].doc_id) == packet
        await receiver.update_status(inbox[0].doc_id, "done")
        assert await receiver.list_received("edoc") == []
        assert [m.doc_id for m in await receiver.list_received(status="done")] == [inbox[0].doc_id]

        sent = await sender.list_sent("edoc", sender_doc_id)
        assert [(row["receiverDocId"], row["toCode"], row["receiveStatus"]) for row in sent] == [
            (inbox[0].doc_id, RECIPIENT, "done")
        ]

        status = write_status(sample_status(StatusCode.INBOX))
        await receiver.send_edoc(status)
        back = await sender.list_received("status")
        assert [(m.from_, m.to) for m in back] == [(RECIPIENT, SENDER)]
        assert read_status(await sender.get_edoc(back[0].doc_id)).packet.status_code == StatusCode.INBOX
        assert await sender.list_received("edoc") == []
    history = axis.state.snapshot()["statusHistory"]
    assert list(history.values()) == [
        [{"from": RECIPIENT, "code": "01", "timestamp": "2026/11/21 09:15:00", "valid": True}]
    ]


async def test_invalid_status_transition_is_recorded(axis: Axis) -> None:
    async with vpcp(axis) as receiver:
        await receiver.send_edoc(write_status(sample_status(StatusCode.FINISHED)))
        await receiver.send_edoc(write_status(sample_status(StatusCode.INBOX)))
    events = next(iter(axis.state.snapshot()["statusHistory"].values()))
    assert [(e["code"], e["valid"]) for e in events] == [("06", False), ("01", False)]


async def test_multi_agency_system_sees_each_recipient_separately(axis: Axis) -> None:
    packet = write_document(sample_document(sender=RECIPIENT, recipients=(SENDER, OTHER)))
    async with vpcp(axis) as sender, lgsp(axis) as receiver:
        await sender.send_edoc(packet)
        everything = await receiver.list_received()
        assert sorted(m.to for m in everything) == sorted([SENDER, OTHER])
        assert [m.to for m in await receiver.list_received(to=OTHER)] == [OTHER]
        with pytest.raises(PermanentAxisError) as info:
            await receiver.list_received(to=RECIPIENT)
        assert info.value.status == 403


async def test_receiver_cannot_fetch_someone_elses_message(axis: Axis) -> None:
    async with lgsp(axis) as sender:
        await sender.send_edoc(write_document(sample_document()))
        doc_id = next(iter(axis.state.messages))
        with pytest.raises(PermanentAxisError) as info:
            await sender.get_edoc(doc_id)
        assert (info.value.status, info.value.error_code) == (404, "NOT_FOUND")


# ------------------------------------------------------------------------------------ HMAC failures


async def test_wrong_secret_is_rejected(axis: Axis) -> None:
    async with AxisClient(axis.url, axis.lgsp_id, secrets.token_hex(16)) as client:
        with pytest.raises(PermanentAxisError) as info:
            await client.list_agencies()
    assert (info.value.status, info.value.error_code) == (401, "AUTH_INVALID_SIGNATURE")


async def test_unknown_system_is_rejected(axis: Axis) -> None:
    async with AxisClient(axis.url, "nobody", axis.lgsp_secret) as client:
        with pytest.raises(PermanentAxisError) as info:
            await client.list_agencies()
    assert info.value.error_code == "AUTH_UNKNOWN_SYSTEM"


async def test_stale_timestamp_is_rejected(axis: Axis) -> None:
    axis.state.faults = Faults(clock_offset_s=3600)
    async with lgsp(axis) as client:
        with pytest.raises(PermanentAxisError) as info:
            await client.list_agencies()
    assert (info.value.status, info.value.error_code) == (401, "AUTH_STALE_TIMESTAMP")


def test_unsigned_request_is_rejected(axis: Axis) -> None:
    response = httpx.post(f"{axis.url}/getAgenciesList", json={})
    assert response.status_code == 401 and response.json()["ErrorCode"] == "AUTH_MISSING"


class TamperingTransport(AiohttpTransport):
    """Changes one byte of the packet after signing, as a broken proxy would."""

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: Body | None) -> TransportResponse:
        body = body_bytes(body)
        assert body is not None
        index = body.index(b"<Subject>") + 1
        return await super().send(method, url, headers, body[:index] + b"X" + body[index + 1 :])


async def test_hash_file_mismatch_is_rejected(axis: Axis) -> None:
    async with lgsp(axis, transport=TamperingTransport()) as client:
        with pytest.raises(PermanentAxisError) as info:
            await client.send_edoc(write_document(sample_document()))
    assert info.value.error_code == "HASH_MISMATCH"
    assert axis.state.messages == {}


# ------------------------------------------------------------------------------------ bad packets


async def test_client_refuses_garbage_without_a_network_call(axis: Axis) -> None:
    async with lgsp(axis) as client:
        with pytest.raises(PermanentAxisError) as info:
            await client.send_edoc(b"\x00\x01garbage<?xml")
    assert info.value.error_code == "edxml-garbage-before-xml" and axis.state.request_count == 0


async def test_simulator_rejects_bad_packets(axis: Axis) -> None:
    async with lgsp(axis) as client:
        with pytest.raises(PermanentAxisError) as info:
            await client.send_edoc(b"<edXML xmlns='http://www.go.vn/eDoc'/>", sender=SENDER, message_type="edoc")
        assert (info.value.status, info.value.error_code) == (400, "INVALID_PACKET")
        assert "wrong-namespace" in info.value.message
        with pytest.raises(PermanentAxisError) as info:
            await client.send_edoc(write_document(sample_document()), message_type="status")
        assert info.value.error_code == "MESSAGE_TYPE_MISMATCH"
        with pytest.raises(PermanentAxisError) as info:
            await client.send_edoc(write_document(sample_document(sender=OTHER)), sender=SENDER)
        assert info.value.error_code == "SENDER_MISMATCH"


async def test_unknown_recipient_and_forbidden_sender(axis: Axis) -> None:
    async with lgsp(axis) as client:
        with pytest.raises(PermanentAxisError) as info:
            await client.send_edoc(write_document(sample_document(recipients=("000.00.99.H99",))))
        assert info.value.error_code == "UNKNOWN_RECIPIENT"
        with pytest.raises(PermanentAxisError) as info:
            await client.send_edoc(write_document(sample_document(sender=RECIPIENT, recipients=(SENDER,))))
        assert (info.value.status, info.value.error_code) == (403, "FORBIDDEN_SENDER")


async def test_tolerated_deviations_are_accepted(axis: Axis) -> None:
    packet = write_document(sample_document()).replace(b"<DueDate>2026/12/31<", b"<DueDate>2026-12-31<")
    async with lgsp(axis) as client:
        await client.send_edoc(packet)
    assert len(axis.state.messages) == 1


# ------------------------------------------------------------------------------------ faults


async def test_injected_5xx_is_retryable(axis: Axis) -> None:
    axis.state.faults = Faults(error_rate=1.0)
    async with lgsp(axis) as client:
        with pytest.raises(RetryableAxisError) as info:
            await client.send_edoc(write_document(sample_document()))
    assert (info.value.status, info.value.error_code) == (503, "INJECTED_FAULT") and info.value.retryable
    assert axis.state.messages == {}


async def test_error_after_commit_leaves_the_packet_queued(axis: Axis) -> None:
    axis.state.faults = Faults(error_after_commit_rate=1.0)
    async with lgsp(axis) as client:
        with pytest.raises(RetryableAxisError):
            await client.send_edoc(write_document(sample_document()))
    assert len(axis.state.messages) == 1


async def test_slow_response_times_out_as_retryable(axis: Axis) -> None:
    axis.state.faults = Faults(slow_ms=1000)
    async with lgsp(axis, timeout=0.2) as client:
        with pytest.raises(RetryableAxisError) as info:
            await client.list_agencies()
    assert info.value.error_code == "timeout" and info.value.status is None


async def test_connection_refused_is_retryable() -> None:
    sock = bind_socket()
    port = sock.getsockname()[1]
    sock.close()
    async with AxisClient(f"http://127.0.0.1:{port}", "x", "y") as client:
        with pytest.raises(RetryableAxisError) as info:
            await client.list_agencies()
    assert info.value.error_code == "connection"


async def test_duplicate_delivery(axis: Axis) -> None:
    axis.state.faults = Faults(duplicate_rate=1.0)
    packet = write_document(sample_document())
    async with lgsp(axis) as sender, vpcp(axis) as receiver:
        await sender.send_edoc(packet)
        inbox = await receiver.list_received()
        assert len(inbox) == 2 and len({m.doc_id for m in inbox}) == 2
        fetched = [await receiver.get_edoc(m.doc_id) for m in inbox]
    assert fetched == [packet, packet]  # same DocumentId inside: the receiver can deduplicate


async def test_malformed_packet_on_fetch(axis: Axis) -> None:
    async with lgsp(axis) as sender, vpcp(axis) as receiver:
        await sender.send_edoc(write_document(sample_document()))
        axis.state.faults = Faults(malformed_fetch_rate=1.0)
        doc_id = (await receiver.list_received())[0].doc_id
        data = await receiver.get_edoc(doc_id)
        with pytest.raises(EdxmlError) as info:
            read_document(data)
        assert info.value.code == "garbage-before-xml"
        await receiver.update_status(doc_id, "fail")
        assert await receiver.list_received() == []


async def test_update_status_validation(axis: Axis) -> None:
    async with vpcp(axis) as client:
        with pytest.raises(ValueError):
            await client.update_status("x", "finished")  # type: ignore[arg-type]
        with pytest.raises(PermanentAxisError) as info:
            await client.update_status("no-such-doc", "done")
    assert info.value.status == 404


# ------------------------------------------------------------------------------------ directory, admin


async def test_agency_directory(axis: Axis) -> None:
    async with lgsp(axis) as client:
        assert {a.code for a in await client.list_agencies()} == {SENDER, OTHER, RECIPIENT}
        await client.register_agency("000.00.03.H10", "Sở Tư pháp Cần Thơ", mail="stp@cantho.gov.vn")
        agencies = {a.code: a for a in await client.list_agencies()}
        assert agencies["000.00.03.H10"].name == "Sở Tư pháp Cần Thơ"
        with pytest.raises(PermanentAxisError) as info:
            await client.register_agency("CT-STP", "bad code")
        assert info.value.error_code == "BAD_AGENCY_CODE"
        await client.delete_agency("000.00.03.H10")
        # the real identifier forms of PROTOCOLS.md §1.9 (VXP SaaS tenants, two-letter groups) register too
        for code in ("vxp.saas.07", "001.00.20.TT2"):
            await client.register_agency(code, f"Đơn vị {code}")
            await client.delete_agency(code)
        with pytest.raises(PermanentAxisError):
            await client.delete_agency("000.00.03.H10")


async def test_paging(axis: Axis) -> None:
    async with lgsp(axis) as sender, vpcp(axis) as receiver:
        for _ in range(5):
            await sender.send_edoc(write_document(sample_document()))
        everything = await receiver.list_received()
        page2 = await receiver.list_received(page_size=2, page_index=2)
    assert [m.doc_id for m in page2] == [m.doc_id for m in everything[2:4]]


def test_admin_endpoint_needs_token_and_sets_faults(axis: Axis) -> None:
    assert httpx.get(f"{axis.url}/_admin/state").status_code == 401
    headers = {ADMIN_TOKEN_HEADER: axis.admin_token}
    response = httpx.put(f"{axis.url}/_admin/faults", json={"error_rate": 1.0, "seed": 1}, headers=headers)
    assert response.status_code == 200 and axis.state.faults.error_rate == 1.0
    merged = httpx.put(f"{axis.url}/_admin/faults?merge=1", json={"slow_ms": 5}, headers=headers).json()
    assert merged["error_rate"] == 1.0 and merged["slow_ms"] == 5
    bad = httpx.put(f"{axis.url}/_admin/faults", json={"error_rate": 2}, headers=headers)
    assert bad.status_code == 400 and "between 0 and 1" in bad.json()["error"]
    assert httpx.put(f"{axis.url}/_admin/faults", json={"bogus": 1}, headers=headers).status_code == 400
    assert httpx.get(f"{axis.url}/_admin/state", headers=headers).json()["faults"]["slow_ms"] == 5


async def test_concurrent_senders_with_flaky_axis_lose_nothing(axis: Axis) -> None:
    """Retrying RetryableAxisError is enough to get every packet through a 30%-failing axis."""
    axis.state.faults = Faults(error_rate=0.3, error_after_commit_rate=0.1, seed=7)
    packets = []
    for number in range(40):
        packet = sample_document()
        packet.header.document_id = f"doc-{number}"
        packets.append(write_document(packet))

    async def deliver(client: AxisClient, packet: bytes) -> int:
        for attempt in range(1, 50):
            try:
                await client.send_edoc(packet)
                return attempt
            except RetryableAxisError:
                continue
        raise AssertionError("never delivered")

    async with lgsp(axis) as client:
        attempts = await asyncio.gather(*(deliver(client, p) for p in packets))
    assert sum(attempts) > len(packets)  # some calls really failed
    delivered = {read_document(m.packet).packet.header.document_id for m in axis.state.messages.values()}
    assert delivered == {f"doc-{n}" for n in range(40)}
    injected = axis.state.snapshot()["injected"]
    assert injected.get("error", 0) > 0 and injected.get("error_after_commit", 0) > 0
    # a commit followed by a 503 makes the sender retry: those packets are queued twice, same DocumentId
    assert len(axis.state.messages) == 40 + injected["error_after_commit"]
