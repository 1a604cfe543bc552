"""The http delivery handler against receivers that misbehave (raw sockets, `tests.upstream.hostile`).

A message must end delivered only when its destination took it, and otherwise stop at the configured
attempts, visible as dead with a readable reason: never retried for ever, never lost.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from lgsp.delivery.handlers import HandlerRegistry, HttpHandler
from lgsp.delivery.outbox import NewMessage, accept
from tests.delivery.test_worker import FAST, deliver_all, row
from tests.upstream.hostile import HostileServer, fixed, reply


@pytest.fixture
def elsewhere() -> Iterator[HostileServer]:
    """Another host, which takes anything: a redirect must not get a message delivered there."""
    server = HostileServer({"in": fixed(reply("200 OK", [("Content-Length", "0"), ("X-Remote-Id", "ELSEWHERE")]))})
    yield server
    server.stop()


@pytest.mark.parametrize("status", ["301 Moved Permanently", "302 Found", "303 See Other",
                                    "307 Temporary Redirect", "308 Permanent Redirect"])
async def test_a_redirect_is_not_followed_to_another_host(engine: Engine, elsewhere: HostileServer,
                                                          status: str) -> None:
    """aiohttp followed it: the message was 'delivered' to the other host, with that host's remote id."""
    receiver = HostileServer({"inbox": fixed(reply(status, [("Location", f"{elsewhere.url}/in/x"),
                                                            ("Content-Length", "0")]))})
    try:
        sent = accept(engine, NewMessage("http", b'{"n": 1}', destination=f"{receiver.url}/inbox")).message_id
        await deliver_all(engine, HandlerRegistry({"http": HttpHandler(timeout=5)}))
    finally:
        receiver.stop()
    stored = row(engine, sent)
    assert elsewhere.seen["in"] == 0
    assert stored.state == "dead" and stored.attempts == 1 and stored.remote_id is None
    assert status.split()[0] in (stored.last_error or "") and elsewhere.url in (stored.last_error or "")


async def test_a_5xx_body_with_nul_bytes_still_ends_dead(engine: Engine) -> None:
    """The receiver's body went into last_error as it was: PostgreSQL refuses NUL in text, recording the
    outcome failed, and the message went back after every lease, never reaching dead."""
    receiver = HostileServer({"inbox": fixed(reply("500 Oops", [("Content-Length", "8")], b"\x00\x01oops\xff\x00"))})
    try:
        sent = accept(engine, NewMessage("http", b"{}", destination=f"{receiver.url}/inbox")).message_id
        await deliver_all(engine, HandlerRegistry({"http": HttpHandler(timeout=5)}))
    finally:
        receiver.stop()
    stored = row(engine, sent)
    assert stored.state == "dead" and stored.attempts == FAST.max_attempts
    assert "HTTP 500" in (stored.last_error or "") and "\x00" not in (stored.last_error or "")
    assert receiver.seen["inbox"] == FAST.max_attempts
