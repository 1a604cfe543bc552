"""A request body that trickles in is answered 408 and its connection closed; a slow *server* is not blamed.

Before, a complete head followed by one body byte a second (slow POST) held the connection for as long as
the client liked: ``POST /oauth/token`` with ``Content-Length: 1000`` was still open after 30 s. Now every
window of ``body_window`` seconds in which lgsp waits for the body must bring ``body_min_rate`` bytes a
second (lgsp.gateway.deadlines). Windows in which lgsp itself is not reading (the app busy, reading paused
by flow control, a client waiting for ``100 Continue``) do not count, and the tests below check that too.

Real sockets against uvicorn with lgsp's protocol; the deadline is 1 s and 100 B/s here (defaults 20 s,
500 B/s). The gateway tests check what the caller and the audit log are told.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from lgsp.app import create_app
from lgsp.audit.models import AuditEntry
from lgsp.auth.clients import create_client
from lgsp.gateway.deadlines import RequestDeadlineProtocol
from lgsp.settings import Settings
from lgsp.testing.servers import RunningServer, start_server
from registry.declarative import apply, parse_registry_file
from tests.security.providers import RecordingProvider
from tests.security.rawhttp import read_until_close

WINDOW = 1.0
RATE = 100


class QuickDeadlines(RequestDeadlineProtocol):
    """The protocol with test-sized deadlines (its own class attributes: the settings are not read)."""

    head_timeout = 10.0
    body_window = WINDOW
    body_min_rate = RATE


class BodyReader:
    """An ASGI app that reads the whole body (optionally after a pause) and answers how much it got."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/early":  # answers at once, never reads the body
            await self._answer(send, {"early": True})
            return
        pause = float(scope["path"].rsplit("/", 1)[-1]) if scope["path"].startswith("/pause/") else 0.0
        size, pauses, outcome = 0, 0, "complete"
        while True:
            if pause and pauses < 3:  # a slow reader: three long pauses, each longer than a window
                pauses += 1
                await asyncio.sleep(pause)
            message = await receive()
            if message["type"] == "http.disconnect":
                outcome = "disconnect"
                break
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        self.seen.append({"size": size, "outcome": outcome})
        await self._answer(send, {"received": size})

    @staticmethod
    async def _answer(send: Any, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def reader() -> Iterator[tuple[BodyReader, RunningServer]]:
    app = BodyReader()
    server = start_server(app, http=QuickDeadlines)
    yield app, server
    server.stop()


def _head(path: str, length: int, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Length: {length}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()




def _drip(sock: socket.socket, count: int, every: float) -> None:
    for _ in range(count):
        try:
            sock.sendall(b"a")
        except OSError:
            return  # closed under us: the deadline did its job
        time.sleep(every)


def _assert_408(answer: bytes) -> dict[str, Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"application/problem+json" in head
    problem: dict[str, Any] = json.loads(body)
    assert problem["status"] == 408 and problem["type"].endswith("/request-timeout"), problem
    return problem


def test_a_body_sent_a_byte_at_a_time_is_answered_408_and_closed(reader: tuple[BodyReader, RunningServer]) -> None:
    app, server = reader
    with socket.create_connection((server.host, server.port), timeout=15) as sock:
        sock.sendall(_head("/drip", 1000))
        _drip(sock, count=int(6 * WINDOW / 0.2), every=0.2)  # 5 B/s for 6 windows, 20 times too slow
        problem = _assert_408(read_until_close(sock))
    assert "too slowly" in problem["title"] + problem["detail"]
    deadline = time.monotonic() + 5
    while not app.seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.seen[-1]["outcome"] == "disconnect"  # the app was told, and did not wait for ever


def test_a_slow_but_steady_upload_completes(reader: tuple[BodyReader, RunningServer]) -> None:
    """400 B/s for 4 windows: over the minimum rate, so it runs as long as it needs."""
    _, server = reader
    size = 1600
    with socket.create_connection((server.host, server.port), timeout=15) as sock:
        sock.sendall(_head("/steady", size, "Connection: close"))
        for _ in range(size // 40):
            sock.sendall(b"b" * 40)
            time.sleep(0.1)
        answer = read_until_close(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {"received": size}


def test_time_the_server_is_not_reading_is_not_the_clients(reader: tuple[BodyReader, RunningServer]) -> None:
    """The app pauses 1.5 windows three times while 4 MB wait: flow control stops reading, so the client
    cannot send; no window may blame it."""
    _, server = reader
    size = 4 * 1024 * 1024
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(_head(f"/pause/{1.5 * WINDOW}", size, "Connection: close"))
        sock.sendall(b"c" * size)
        answer = read_until_close(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {"received": size}


def test_a_client_waiting_for_100_continue_is_not_timed_out(reader: tuple[BodyReader, RunningServer]) -> None:
    _, server = reader
    with socket.create_connection((server.host, server.port), timeout=15) as sock:
        sock.sendall(_head(f"/pause/{1.5 * WINDOW}", 5, "Expect: 100-continue", "Connection: close"))
        interim = sock.recv(65536)  # sent only when the app first reads, 1.5 windows later
        assert interim.startswith(b"HTTP/1.1 100"), interim
        sock.sendall(b"hello")
        answer = interim.partition(b"\r\n\r\n")[2] + read_until_close(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]


def test_after_an_early_answer_a_dripped_body_does_not_hold_the_connection(
        reader: tuple[BodyReader, RunningServer]) -> None:
    _, server = reader
    with socket.create_connection((server.host, server.port), timeout=15) as sock:
        sock.sendall(_head("/early", 1000) + b"a")  # a first byte before the answer (it stays unread)
        _drip(sock, count=int(6 * WINDOW / 0.2), every=0.2)
        answer = read_until_close(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert b"HTTP/1.1 408" not in answer  # one answer per request: the early one; the connection just closes


# --- through the gateway: the caller gets a 408, and the audit log says so ---

CITY, DEPT = "000.00.12.H10", "000.00.31.H10"
CLIENT, OPEN = f"{CITY}/MOTCUA", f"{DEPT}/PROV/open"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, RunningServer, str]]:
    tmp: Path = tmp_path_factory.mktemp("slow-bodies")
    provider = start_server(RecordingProvider())
    app = create_app(Settings.load(database_url=f"sqlite:///{tmp / 'lgsp.db'}", access_log=False,
                                   max_body_bytes=64 * 1024, buffer_response_bytes=16 * 1024))
    apply(app.runtime.engine, parse_registry_file(f"""
agencies:
  - {{code: {CITY}, name: UBND thành phố Cần Thơ}}
  - {{code: {DEPT}, name: Sở Tư pháp, parent: {CITY}}}
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: {DEPT}/PROV, name: Provider, client: false, provider: true}}
services:
  - {{id: {OPEN}, name: Open, base_url: "{provider.url}", timeout_seconds: 30, retry_attempts: 0}}
grants:
  - {{client: {CLIENT}, service: {OPEN}}}
"""))
    cred = create_client(app.runtime.engine, CLIENT, ["gateway"])
    app.runtime.registry_changed()
    server = start_server(app, http=QuickDeadlines)
    token = httpx.post(f"{server.url}/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(cred.client_id, cred.client_secret)).json()["access_token"]
    yield app, server, token
    server.stop()
    provider.stop()
    app.runtime.engine.dispose()


@pytest.mark.parametrize("length", [1000, 40_000], ids=["buffered", "streamed to the provider"])
def test_the_gateway_answers_408_and_audits_it(gateway: tuple[Any, RunningServer, str], length: int) -> None:
    app, server, token = gateway
    message_id = str(uuid.uuid4())
    with socket.create_connection((server.host, server.port), timeout=15) as sock:
        sock.sendall(_head(f"/services/{OPEN}/upload", length, f"Authorization: Bearer {token}",
                           f"X-LGSP-Message-Id: {message_id}", "Content-Type: application/octet-stream"))
        sock.sendall(b"x" * 200)  # a start, then a trickle
        _drip(sock, count=int(6 * WINDOW / 0.2), every=0.2)
        _assert_408(read_until_close(sock))
    deadline = time.monotonic() + 10
    entry = None
    while entry is None and time.monotonic() < deadline:
        with app.runtime.engine.connect() as connection:
            entry = connection.execute(select(AuditEntry.status)
                                       .where(AuditEntry.message_id == message_id)).first()
        time.sleep(0.1)
    assert entry is not None, "no audit entry for the cut-off call"
    assert entry.status == 408, entry


def test_a_token_request_cut_off_is_not_logged_as_a_server_failure(gateway: tuple[Any, RunningServer, str]) -> None:
    """The API's catch-all logged a client leaving mid-body (ClientDisconnect) as 'request failed' at error
    level with a traceback; it is the caller's doing, now one info line."""
    from structlog.testing import capture_logs

    _, server, _ = gateway
    with capture_logs() as logs, socket.create_connection((server.host, server.port), timeout=15) as sock:
        sock.sendall(_head("/oauth/token", 1000, "Content-Type: application/x-www-form-urlencoded"))
        _drip(sock, count=int(6 * WINDOW / 0.2), every=0.2)
        _assert_408(read_until_close(sock))
        deadline = time.monotonic() + 5
        while not logs and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not [entry for entry in logs if entry["log_level"] in ("error", "critical") or entry.get("exc_info")], logs
    assert any(entry["event"] == "client left before its request was read" for entry in logs), logs
