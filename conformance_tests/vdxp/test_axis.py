"""An axis endpoint (``--vdxp-url``): HMAC enforcement, directory, send/receive, status packets."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timedelta

import pytest
from axis_http import AxisHttp, AxisTarget, assert_rejected, ok, records, vxp_timestamp
from edxml_checks import E, parse, schema_errors
from packets import TRANSITIONS, edoc, status

# ------------------------------------------------------------------------------ authentication


def test_agency_directory_is_served_to_a_signed_request(sender_http: AxisHttp) -> None:
    agencies = records(ok(sender_http.call("getAgenciesList")))
    assert agencies, "getAgenciesList must return a non-empty data list"
    for agency in agencies:
        assert agency.get("code") and agency.get("name"), f"an agency without code or name: {str(agency)[:200]}"


def test_wrong_secret_is_rejected(sender_http: AxisHttp) -> None:
    headers = sender_http.headers({}, secret="not-the-secret")
    assert_rejected(sender_http.call("getAgenciesList", headers=headers))


def test_unsigned_request_is_rejected(sender_http: AxisHttp) -> None:
    assert_rejected(sender_http.call("getAgenciesList", headers={"Content-Type": "application/json"}))


def test_unknown_system_is_rejected(target: AxisTarget) -> None:
    with AxisHttp(target.url, "conformance-unknown-system", target.secret) as http:
        assert_rejected(http.call("getAgenciesList"))


def test_header_changed_after_signing_is_rejected(sender_http: AxisHttp) -> None:
    headers = sender_http.headers({"messagetype": "edoc", "servicetype": "eDoc"})
    headers["XroadVnpt-messagetype"] = "status"
    assert_rejected(sender_http.call("getReceivedEdocList", headers=headers))


def test_stale_timestamp_is_rejected(sender_http: AxisHttp) -> None:
    old = vxp_timestamp(datetime.now().astimezone() - timedelta(hours=2))
    assert_rejected(sender_http.call("getAgenciesList", headers=sender_http.headers({}, timestamp=old)))


# ------------------------------------------------------------------------------ sending


def _find_received(http: AxisHttp, message_type: str, sender: str, recipient: str, want: bytes) -> tuple[str, bytes]:
    listing = ok(http.call("getReceivedEdocList", {"servicetype": "eDoc", "messagetype": message_type}))
    digest = hashlib.sha256(want).hexdigest()
    for item in records(listing):
        if item.get("from") != sender or item.get("to") != recipient:
            continue
        assert isinstance(item.get("docId"), str), f"a listed message without a docId: {str(item)[:200]}"
        encoded = ok(http.call("getEdoc", {"docId": item["docId"], "filePath": ""})).get("data")
        assert isinstance(encoded, str), f"getEdoc must answer the packet as base64 text in 'data', not {encoded!r:.99}"
        try:
            packet = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise AssertionError(f"getEdoc 'data' is not base64: {encoded[:100]!r}") from None
        if hashlib.sha256(packet).hexdigest() == digest:
            return item["docId"], packet
    raise AssertionError(f"the {message_type} sent by {sender} did not arrive for {recipient}")


def test_document_round_trip(sending_target: AxisTarget, sender_http: AxisHttp, receiver_http: AxisHttp) -> None:
    t = sending_target
    packet, _document_id = edoc(t.sender, t.recipient)
    sent = ok(sender_http.send(packet, t.sender, "edoc"))
    assert sent.get("DocId"), "sendEdoc must answer a DocId"
    doc_id, fetched = _find_received(receiver_http, "edoc", t.sender, t.recipient, packet)
    assert schema_errors(parse(fetched)) == []
    ok(receiver_http.call("updateStatus", {"docId": doc_id, "status": "done"}))
    pending = ok(receiver_http.call("getReceivedEdocList", {"servicetype": "eDoc", "messagetype": "edoc"}))
    assert doc_id not in {item.get("docId") for item in records(pending)}, "done messages must leave the list"


def test_hash_file_mismatch_is_rejected(sending_target: AxisTarget, sender_http: AxisHttp) -> None:
    packet, _ = edoc(sending_target.sender, sending_target.recipient)
    assert_rejected(sender_http.send(packet, sending_target.sender, "edoc", hash_file="0" * 64))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: b"\x00\x01\x02\x03" + p,
        lambda p: p.replace(b"http://www.mic.gov.vn/TBT/QCVN_102_2016", b"http://www.go.vn/eDoc"),
        lambda p: p[: len(p) // 2],
        lambda p: re.sub(rb"<Subject>.*?</Subject>", b"", p, flags=re.S),
    ],
    ids=["garbage-prefix", "wrong-namespace", "truncated", "missing-fields"],
)
def test_bad_packets_are_rejected(sending_target: AxisTarget, sender_http: AxisHttp, mangle) -> None:
    packet, _ = edoc(sending_target.sender, sending_target.recipient)
    assert_rejected(sender_http.send(mangle(packet), sending_target.sender, "edoc"))


def test_unknown_queue_status_is_rejected(sending_target: AxisTarget, receiver_http: AxisHttp) -> None:
    assert_rejected(receiver_http.call("updateStatus", {"docId": "conformance-no-such-doc", "status": "finished"}))


def test_status_packets_travel_back_in_a_valid_sequence(
    sending_target: AxisTarget, sender_http: AxisHttp, receiver_http: AxisHttp
) -> None:
    t = sending_target
    _, document_id = edoc(t.sender, t.recipient)
    start = datetime.now()
    codes = ["01", "03", "04", "05", "06"]
    packets = [
        status(t.recipient, t.sender, document_id, code, start + timedelta(seconds=i)) for i, code in enumerate(codes)
    ]
    for packet in packets:
        ok(receiver_http.send(packet, t.recipient, "status"))
    received: list[tuple[str, str]] = []
    for packet in packets:
        doc_id, fetched = _find_received(sender_http, "status", t.recipient, t.sender, packet)
        root = parse(fetched)
        assert schema_errors(root) == []
        mh = root.find(f"{E}edXMLEnvelope/{E}edXMLHeader/{E}MessageHeader")
        assert mh is not None
        received.append(((mh.findtext(f"{E}Timestamp") or ""), (mh.findtext(f"{E}StatusCode") or "")))
        ok(sender_http.call("updateStatus", {"docId": doc_id, "status": "done"}))
    current: str | None = None
    for _stamp, code in sorted(received):
        assert code in TRANSITIONS[current], f"{current} → {code}"
        current = code
    assert [code for _, code in sorted(received)] == codes
