"""uvicorn's httptools protocol, plus the ASGI TLS extension: the client certificate of the connection.

(The base class writes each response in one buffer, see :mod:`lgsp.gateway.coalesce`, and gives every
request head a deadline, see :mod:`lgsp.gateway.deadlines`.)

uvicorn terminates TLS but does not tell the app which certificate the client presented. When
``lgsp serve`` terminates TLS itself (``--ssl-certfile``, ``--ssl-ca-certs``), this protocol puts the peer
certificate into ``scope["extensions"]["tls"]["client_cert_chain"]`` (PEM, as the ASGI TLS extension
specifies), where :mod:`lgsp.gateway.client_certs` finds it. Python's ``ssl`` exposes only the leaf, so
the "chain" holds the leaf alone; the handshake has already verified it against ``--ssl-ca-certs``.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from lgsp.gateway.deadlines import RequestDeadlineProtocol


class TLSHttpToolsProtocol(RequestDeadlineProtocol):
    _lgsp_tls: dict[str, Any] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            self._lgsp_tls = None
            return
        der = ssl_object.getpeercert(binary_form=True)
        self._lgsp_tls = {
            "server_cert": None,
            "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "client_cert_name": None,
            "client_cert_error": None,
            "tls_version": None,
            "cipher_suite": None,
        }

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._lgsp_tls is not None:
            scope: dict[str, Any] = self.scope  # type: ignore[assignment]
            scope["extensions"] = {"tls": self._lgsp_tls}
