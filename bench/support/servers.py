"""Minimal ASGI apps for benchmarks: a fixed-response provider, the bare reverse proxy (the ceiling) and a
provider that stalls on purpose (to check that a load generator sees stalls).

The bare proxy is the fastest minimal Python proxy on the same stack as lgsp (raw ASGI on
uvicorn+uvloop+httptools, pooled aiohttp client): no auth, no registry, no audit.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import aiohttp

FIXED_BODY = b'{"ma_tram":"CT-NK-01","pm25":21.4,"pm10":33.0,"aqi":57,"thoi_gian":"2026-11-25T08:00:00+07:00"}'


async def provider(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(FIXED_BODY)).encode())]})
    await send({"type": "http.response.body", "body": FIXED_BODY})


class StallingProvider:
    """The provider, but every ``BENCH_STALL_EVERY``-th request blocks its event loop ``BENCH_STALL_MS`` ms.

    For bench/gateway_latency.py --validate: an open-loop generator must see the requests that arrive during
    a stall as late, not only the one that stalled (see the expected figures there).
    """

    def __init__(self) -> None:
        self.every = int(os.environ.get("BENCH_STALL_EVERY", "100"))
        self.stall = float(os.environ.get("BENCH_STALL_MS", "20")) / 1000
        self.count = itertools.count(1)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and next(self.count) % self.every == 0:
            time.sleep(self.stall)  # noqa: ASYNC251 - on purpose: blocks the loop, as a stall does
        await provider(scope, receive, send)


stalling_provider = StallingProvider()


class BareProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.session: aiohttp.ClientSession | None = None
        self.lag: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if os.environ.get("BENCH_LOOP_LAG"):  # the same monitor as lgsp's (loop_lag_file)
                        from lgsp.looplag import LoopLagMonitor

                        self.lag = LoopLagMonitor(os.environ["BENCH_LOOP_LAG"])
                        self.lag.start()
                    self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512),
                                                         auto_decompress=False)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.session:
                        await self.session.close()
                    if self.lag is not None:
                        await self.lag.stop()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        assert self.session is not None
        url = self.upstream + scope["path"]
        async with self.session.request(scope["method"], url, data=body or None) as response:
            payload = await response.read()
            headers = [(k.lower(), v) for k, v in response.raw_headers
                       if k.lower() not in (b"content-length", b"connection", b"transfer-encoding", b"date", b"server")]
            headers.append((b"content-length", str(len(payload)).encode()))
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            await send({"type": "http.response.body", "body": payload})


bare_proxy = BareProxy(os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:1"))
