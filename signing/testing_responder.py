"""A real CRL/OCSP responder (plain ASGI) for the test PKI; callers serve it on 127.0.0.1, because its URL
is baked into the certificates' CRL DP / AIA extensions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from signing.testing_pki import TestPki

Receive = Callable[[], Awaitable[dict[str, Any]]]

Send = Callable[[dict[str, Any]], Awaitable[None]]


class RevocationResponder:
    """ASGI app serving ``GET /crl/{root,intermediate}.crl`` and ``POST /ocsp`` for a :class:`TestPki`.

    Switches let tests break it the way real responders break: ``ocsp_up``/``crl_up`` False answers 503,
    ``echo_nonce`` False drops the nonce, ``trickle`` True sends the answer one byte every 0.2 s (a slow
    responder that never lets a read time out; it stops when ``trickle`` is switched off). ``hits`` counts
    requests per path, so tests can prove caching.
    """

    def __init__(self) -> None:
        self.pki: TestPki | None = None
        self.ocsp_up = True
        self.crl_up = True
        self.echo_nonce = True
        self.trickle = False
        self.crl_next_update = dt.timedelta(hours=1)
        self.crl_override: dict[str, bytes] = {}  # path -> CRL bytes served instead of the real list
        self.hits: dict[str, int] = {}

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path: str = scope["path"]
        self.hits[path] = self.hits.get(path, 0) + 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, content_type, payload = self._answer(scope["method"], path, body)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type.encode()),
                                (b"content-length", str(len(payload)).encode())]})
        if self.trickle:
            await self._trickle(send, payload)
            return
        await send({"type": "http.response.body", "body": payload})

    async def _trickle(self, send: Send, payload: bytes) -> None:
        import asyncio

        sent = 0
        while sent < len(payload) and self.trickle:
            await send({"type": "http.response.body", "body": payload[sent:sent + 1], "more_body": True})
            sent += 1
            await asyncio.sleep(0.2)
        await send({"type": "http.response.body", "body": payload[sent:]})

    def _answer(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        pki = self.pki
        if pki is None:
            return 503, "text/plain", b"PKI not ready"
        if path.startswith("/crl/") and method == "GET":
            if not self.crl_up:
                return 503, "text/plain", b"CRL service down"
            if path in self.crl_override:
                return 200, "application/pkix-crl", self.crl_override[path]
            issuer = {"/crl/root.crl": pki.root, "/crl/intermediate.crl": pki.intermediate}.get(path)
            if issuer is None:
                return 404, "text/plain", b"no such CRL"
            return 200, "application/pkix-crl", pki.crl(issuer, self.crl_next_update)
        if path == "/ocsp" and method == "POST":
            if not self.ocsp_up:
                return 503, "text/plain", b"OCSP service down"
            return 200, "application/ocsp-response", pki.ocsp_response(body, echo_nonce=self.echo_nonce)
        return 404, "text/plain", b"not found"
