"""One CRL/OCSP request over HTTP, bounded in time and size (moved out of :mod:`signing.revocation`).

The standard library's ``http.client`` in a worker thread: revocation data is fetched rarely (answers are
cached until nextUpdate), so a light client that costs nothing to import beats an HTTP library that adds
a quarter second to every ``lgsp verify`` start. How long all fetches of one verification may take
together is :mod:`signing.revlimits`' business; this module bounds one exchange.
"""

from __future__ import annotations

import threading
from typing import Any

from .revlimits import DEFAULT_MAX_CRL_BYTES

#: The most one revocation answer may be (a CRL is further bounded by the policy's ``max_crl_bytes``).
MAX_REVINFO_BYTES = DEFAULT_MAX_CRL_BYTES


async def fetch(method: str, url: str, limit_seconds: float, data: bytes | None = None,
                content_type: str | None = None, max_bytes: int = MAX_REVINFO_BYTES, bound: str = "") -> bytes:
    """One CRL/OCSP request with the standard library (``http.client`` in a worker thread).

    Redirects are never followed (``http.client`` does not), the body is capped, the whole exchange is
    bounded by ``limit_seconds``. The socket timeout bounds each read only, so a responder that trickles
    a byte now and then would keep the worker thread reading long after ``wait_for`` gave up — and
    ``asyncio.run`` waits for that thread before it returns: the verification hung. So the connection is
    also shut down when the deadline passes, which ends any read in progress.
    """
    import asyncio
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"refusing non-HTTP revocation URL {url!r}")

    def exchange() -> bytes:
        kind = http.client.HTTPSConnection if parts.scheme.lower() == "https" else http.client.HTTPConnection
        connection = kind(parts.hostname or "", parts.port, timeout=limit_seconds)
        expired = threading.Event()
        deadline = threading.Timer(limit_seconds, _abort, (connection, expired))
        deadline.daemon = True
        deadline.start()
        try:
            headers = {"Content-Type": content_type} if content_type else {}
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request(method, target, body=data, headers=headers)
            response = connection.getresponse()
            if response.status != 200:
                raise ValueError(f"{url} answered HTTP {response.status}")
            body = response.read(max_bytes + 1)
            if expired.is_set():
                raise TimeoutError(f"{url} did not answer within {limit_seconds:g} s")
            if len(body) > max_bytes:
                raise ValueError(f"{url} sent more than the limit of {max_bytes} bytes{bound}")
            return body
        finally:
            deadline.cancel()
            connection.close()

    try:
        return await asyncio.wait_for(asyncio.to_thread(exchange), timeout=limit_seconds)
    except TimeoutError as exc:
        raise TimeoutError(f"{url} did not answer within {limit_seconds:g} s") from exc


def _abort(connection: Any, expired: threading.Event) -> None:
    """End a revocation exchange that ran past its deadline: a blocked read returns at once."""
    import socket

    expired.set()
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed by the exchange itself
