"""The ``--target`` of a conformance run: a usable URL, and an endpoint that answers at all.

A suite judges what an endpoint answers; when the URL is not an http(s) URL, or nothing answers (closed
port, unknown host, TLS spoken to a plain port, a server that accepts and stays silent or drips), there is
nothing to judge, and a table of identical connection errors would wrongly read "not conformant". These
cases are found before the suite runs and reported in one line (exit 2 for a bad URL, 3 for no answer).
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlsplit

#: How long the target has to answer one GET in all (``LGSP_CONFORMANCE_PREFLIGHT_SECONDS``).
PREFLIGHT_SECONDS = 30.0
_PREFLIGHT_BYTES = 1 << 20  # an answer this long is an answer: the suites bound the rest themselves


class TargetError(Exception):
    """The target cannot be judged (the message says why, in one line)."""


def check_url(url: str) -> str:
    """``url`` when it is an absolute http(s) URL with a host and a valid port; ``ValueError`` otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range
    except ValueError as exc:
        raise ValueError(f"--target {url!r} is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"--target {url!r} must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"--target {url!r} has no host")
    if port == 0:
        raise ValueError(f"--target {url!r}: port 0 is not a port")
    try:
        import httpx

        httpx.URL(url)
    except ImportError:
        pass  # the run itself says that the suites need httpx
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise ValueError(f"--target {url!r} is not a valid URL: {exc}") from None
    return url


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "ssl" in lowered or "tls" in lowered or "illegal request line" in lowered or "protocol" in lowered:
        text += " (https:// to a plain-HTTP port, or http:// to a TLS port?)"
    return f"{type(exc).__name__}: {text}"


def preflight(url: str, seconds: float | None = None) -> int:
    """The HTTP status of ``GET url``, read within ``seconds`` in all; :class:`TargetError` without one.

    Any status (404, 500, a redirect) is an answer the suite can judge. The request runs in a daemon
    thread joined with a timeout, so that no way of not answering (silence, a status line sent one byte
    a second) can hold the run longer than ``seconds``.
    """
    if seconds is None:
        seconds = float(os.environ.get("LGSP_CONFORMANCE_PREFLIGHT_SECONDS") or PREFLIGHT_SECONDS)
    try:
        import httpx
    except ImportError:
        raise TargetError("the conformance suites need httpx and pytest (pip install 'lgsp[dev]')") from None
    outcome: dict[str, Any] = {}

    def probe() -> None:
        try:
            with httpx.Client(timeout=seconds) as client, client.stream("GET", url) as response:
                size = 0
                for chunk in response.iter_raw():
                    size += len(chunk)
                    if size >= _PREFLIGHT_BYTES:
                        break
                outcome["status"] = response.status_code
        except Exception as exc:  # whatever happened, it is the one-line reason
            outcome["error"] = exc

    thread = threading.Thread(target=probe, name="conformance-preflight", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TargetError(f"{url} sent no complete answer within {seconds:g} s (silent or dripping endpoint)")
    if "error" in outcome:
        raise TargetError(f"cannot reach {url}: {_describe(outcome['error'])}")
    return int(outcome["status"])
