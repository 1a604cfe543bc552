"""Configuration of the document axis from ``LGSP_VDXP_*`` environment variables.

The axis credentials (system id + HMAC secret, issued by the axis operator) are needed by the delivery
handler, the receiving poller and the directory sync; the façade itself works without them (it only
reads the directory table). ``LGSP_VDXP_SECRET_FILE`` lets the secret live in a file readable only by
the service account instead of the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VdxpSettings:
    url: str
    system_id: str
    secret: str
    #: The agencies lgsp receives for (one poll per agency per round); empty = every agency of the system.
    agencies: tuple[str, ...] = ()
    poll_seconds: float = 15.0
    directory_seconds: float = 3600.0
    timeout: float = 60.0
    #: Times a packet that does not parse is fetched again before the axis is told ``fail`` (a fetch can
    #: be garbled in transit; the packet on the axis may be fine).
    parse_attempts: int = 3
    #: How the poller fetches a packet: ``download`` (``downloadEdoc``, the file itself; falls back to
    #: ``getEdoc`` when the axis lacks it) or ``get`` (``getEdoc``: base64 in JSON, ~2.3x the memory).
    fetch: str = "download"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VdxpSettings | None:
        """None when the axis is not configured; ValueError when it is half-configured."""
        env = os.environ if environ is None else environ
        url = env.get("LGSP_VDXP_URL", "")
        if not url:
            return None
        secret = env.get("LGSP_VDXP_SECRET", "")
        secret_file = env.get("LGSP_VDXP_SECRET_FILE", "")
        if secret_file:
            secret = Path(secret_file).read_text(encoding="utf-8").strip()
        system_id = env.get("LGSP_VDXP_SYSTEM_ID", "")
        if not system_id or not secret:
            raise ValueError("LGSP_VDXP_URL is set: LGSP_VDXP_SYSTEM_ID and LGSP_VDXP_SECRET(_FILE) are required too")
        agencies = tuple(a.strip() for a in env.get("LGSP_VDXP_AGENCIES", "").split(",") if a.strip())
        try:
            return cls(url, system_id, secret, agencies,
                       float(env.get("LGSP_VDXP_POLL_SECONDS", "15")),
                       float(env.get("LGSP_VDXP_DIRECTORY_SECONDS", "3600")),
                       float(env.get("LGSP_VDXP_TIMEOUT", "60")),
                       int(env.get("LGSP_VDXP_PARSE_ATTEMPTS", "3")),
                       _fetch_mode(env.get("LGSP_VDXP_FETCH", "download")))
        except ValueError as exc:
            raise ValueError(f"LGSP_VDXP_* timing settings must be numbers: {exc}") from None


def _fetch_mode(value: str) -> str:
    if value not in ("download", "get"):
        raise ValueError(f"LGSP_VDXP_FETCH must be download or get, not {value!r}")
    return value
