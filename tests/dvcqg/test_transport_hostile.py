"""The DVCQG transport against a portal that misbehaves at the HTTP level (raw sockets)."""

from __future__ import annotations

import asyncio
import json

from adapters.dvcqg.transport import AiohttpTransport
from tests.upstream.hostile import HostileServer, Request, fixed, reply

BIG = json.dumps({"error_code": "00", "data": ["x" * 1000] * 2000}).encode()  # ~2 MB


async def _in_pieces(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(reply("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BIG)))]))
    for start in range(0, len(BIG), 16 * 1024):
        writer.write(BIG[start:start + 16 * 1024])
        await writer.drain()
        await asyncio.sleep(0)


async def test_a_redirect_is_not_followed_with_the_body() -> None:
    """aiohttp followed a 307: the login body (username, password) went to the host the answer named."""
    elsewhere = HostileServer({"in": fixed(reply("200 OK", [("Content-Length", "2")], b"{}"))})
    portal = HostileServer({"login": fixed(reply("307 Temporary Redirect", [
        ("Location", f"{elsewhere.url}/in"), ("Content-Length", "0")]))})
    transport = AiohttpTransport(timeout=5)
    try:
        answer = await transport.post_json(f"{portal.url}/login", {"username": "u", "password": "secret"})
    finally:
        await transport.aclose()
        portal.stop()
        elsewhere.stop()
    assert answer.status == 307
    assert elsewhere.seen["in"] == 0


async def test_a_reply_in_many_pieces_is_read_whole() -> None:
    """read(n) returned one buffered chunk: a reply of more than a chunk or two was cut, then invalid JSON."""
    portal = HostileServer({"big": _in_pieces})
    transport = AiohttpTransport(timeout=10)
    try:
        answer = await transport.post_json(f"{portal.url}/big", {})
    finally:
        await transport.aclose()
        portal.stop()
    assert answer.status == 200 and answer.body == BIG
