"""Chunked request bodies (no Content-Length) on SOAP services and JSON mediation (issue 19.5).

Sent over a raw socket with `Transfer-Encoding: chunked`, in several chunks, to the running gateway.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.security.conftest import NGSP, NGSP_SMALL, SMALL, Stack, assert_problem
from tests.security.rawhttp import request

ENVELOPE = (Path(__file__).parent.parent / "core" / "ngsp_request.xml").read_bytes()
CITIZEN = {"SoDinhDanh": "092090000101", "HoVaTen": "Nguyễn Văn An", "NgaySinh": "1990-01-15"}


def pieces(data: bytes, size: int = 100) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_chunked_soap_envelope_is_passed_through(stack: Stack) -> None:
    response = request(stack.url, "POST", f"/services/{NGSP}/XacThucThongTinCongDan", chunked=True,
                       body=pieces(ENVELOPE), headers=stack.auth(**{"Content-Type": "text/xml; charset=utf-8"}))
    assert response.status == 200, response.body
    assert b"KetQuaXacThuc" in response.body and b"MOTCUA" in response.body


def test_chunked_json_is_mediated(stack: Stack) -> None:
    body = json.dumps(CITIZEN, ensure_ascii=False).encode()
    response = request(stack.url, "POST", f"/services/{NGSP}/XacThucThongTinCongDan", chunked=True,
                       body=pieces(body, 7), headers=stack.auth(**{"Content-Type": "application/json"}))
    assert response.status == 200, response.body
    assert response.json()["KetQuaXacThuc"] is True


def test_chunked_json_over_the_service_limit_is_413(stack: Stack) -> None:
    body = json.dumps({**CITIZEN, "HoVaTen": "A" * 5000}).encode()
    response = request(stack.url, "POST", f"/services/{NGSP_SMALL}/XacThucThongTinCongDan", chunked=True,
                       body=pieces(body, 500), headers=stack.auth(**{"Content-Type": "application/json"}))
    body_json = assert_problem(response.status, response.headers["content-type"], response.json(), 413,
                               "payload-too-large")
    assert body_json["limit"] == 2000


def test_chunked_soap_over_the_global_limit_is_413(stack: Stack) -> None:
    filler = b"<!--" + b"x" * (200 * 1024) + b"-->"
    response = request(stack.url, "POST", f"/services/{NGSP}/XacThucThongTinCongDan", chunked=True,
                       body=pieces(ENVELOPE + filler, 16 * 1024),
                       headers=stack.auth(**{"Content-Type": "text/xml; charset=utf-8"}))
    assert response.status == 413, response.body  # a SOAP caller gets a Fault carrying the same kind
    assert b"payload-too-large" in response.body


def test_chunked_rest_body_over_the_limit_is_413(stack: Stack) -> None:
    response = request(stack.url, "POST", f"/services/{SMALL}/upload", chunked=True, body=pieces(b"y" * 5000, 400),
                       headers=stack.auth(**{"Content-Type": "application/octet-stream"}))
    assert_problem(response.status, response.headers["content-type"], response.json(), 413, "payload-too-large")


def test_chunked_rest_body_under_the_limit_is_forwarded_whole(stack: Stack) -> None:
    response = request(stack.url, "POST", f"/services/{SMALL}/upload", chunked=True, body=pieces(b"y" * 900, 100),
                       headers=stack.auth(**{"Content-Type": "application/octet-stream"}))
    assert response.status == 200, response.body
    assert response.json()["received"] == 900
