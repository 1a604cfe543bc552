"""Async client for the DVCQG integration API (§4.1, §4.2).

Protocol facts ([C], S-OCPS): log in with ``{username, password}`` to get a ``session``; every call is a
JSON POST ``{session, madonvi, service, …params}`` answered by ``{error_code, message, result}`` where
"00" (or 0) means success. S-OCPS posts writes, ``TraCuuHoSo`` and ``LayThuTuc`` to the integration
endpoint and the ``LayDanhMuc*`` catalogues to the share endpoint; we route the same way.

Not documented ([U]) and therefore configuration: the endpoint paths, how the portal says "session
expired" (we treat HTTP 401 and the ``session_expired_codes`` as that; the simulator uses "02"), and which
non-"00" codes are transient (``retryable_error_codes``, empty by default).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import structlog

from lgsp import jsontext

from .codes import (
    CAP_NHAT_TIEN_DO_HO_SO_MC,
    CATALOGUE_SERVICES,
    DONG_BO_HO_SO_MC,
    LAY_DANH_SACH_TTHC,
    LAY_THU_TUC,
    TRA_CUU_HO_SO,
    encode_is_updating,
    is_ok_code,
)
from .errors import (
    DossierValidationError,
    DvcqgAuthenticationError,
    DvcqgProtocolError,
    DvcqgServiceError,
    DvcqgSessionError,
    DvcqgUnavailableError,
    FieldProblem,
)
from .models import DossierRecord, ProgressRecord, validate_dossier, validate_progress
from .transport import AiohttpTransport, HttpReply, Transport

log = structlog.get_logger("lgsp.adapters.dvcqg")
R = TypeVar("R", DossierRecord, ProgressRecord)

#: Services S-OCPS sends to ``share_endpoint``; everything else goes to ``integration_endpoint``.
SHARE_SERVICES = CATALOGUE_SERVICES | {LAY_DANH_SACH_TTHC}
_RETRYABLE_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class DvcqgSettings:
    """Connection settings; names follow the S-OCPS config keys (§4.1) so operators recognise them."""

    adapter_url: str
    username: str
    password: str = field(repr=False)
    madonvi: str
    auth_endpoint: str = "/auth"
    integration_endpoint: str = "/integration"
    share_endpoint: str = "/share"
    dstcode: str | None = None
    timeout: float = 30.0
    session_expired_codes: frozenset[str] = frozenset({"02"})
    retryable_error_codes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        parts = urlsplit(self.adapter_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"adapter_url must be an http(s) URL, got {self.adapter_url!r}")
        for name in ("username", "password", "madonvi"):
            if not getattr(self, name):
                raise ValueError(f"DVCQG setting {name!r} must not be empty")
        if self.timeout <= 0:
            raise ValueError("DVCQG timeout must be positive")

    def url(self, endpoint: str) -> str:
        """Join ``adapter_url`` and an endpoint path the way S-OCPS does (plain concatenation)."""
        return self.adapter_url.rstrip("/") + "/" + endpoint.lstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, prefix: str = "LGSP_DVCQG_") -> DvcqgSettings:
        """Settings from ``LGSP_DVCQG_ADAPTER_URL``, ``…_USERNAME``, ``…_PASSWORD``, ``…_MADONVI`` etc."""
        env = os.environ if environ is None else environ
        missing = [key for key in ("ADAPTER_URL", "USERNAME", "PASSWORD", "MADONVI") if not env.get(prefix + key)]
        if missing:
            raise ValueError("missing DVCQG settings: " + ", ".join(prefix + key for key in missing))

        def codes(key: str, default: frozenset[str]) -> frozenset[str]:
            raw = env.get(prefix + key)
            return default if raw is None else frozenset(c.strip() for c in raw.split(",") if c.strip())

        return cls(
            adapter_url=env[prefix + "ADAPTER_URL"],
            username=env[prefix + "USERNAME"],
            password=env[prefix + "PASSWORD"],
            madonvi=env[prefix + "MADONVI"],
            auth_endpoint=env.get(prefix + "AUTH_ENDPOINT", "/auth"),
            integration_endpoint=env.get(prefix + "INTEGRATION_ENDPOINT", "/integration"),
            share_endpoint=env.get(prefix + "SHARE_ENDPOINT", "/share"),
            dstcode=env.get(prefix + "DSTCODE") or None,
            timeout=float(env.get(prefix + "TIMEOUT", "30")),
            session_expired_codes=codes("SESSION_EXPIRED_CODES", frozenset({"02"})),
            retryable_error_codes=codes("RETRYABLE_ERROR_CODES", frozenset()),
        )


@dataclass(frozen=True)
class DvcqgReply:
    """A successful (error_code "00") answer; ``rows`` is ``result`` normalised to a list of objects."""

    service: str
    error_code: str
    message: str
    rows: list[dict[str, Any]]
    raw: dict[str, Any]


def _rows(result: Any) -> list[dict[str, Any]]:
    if result is None or result == "":
        return []
    if isinstance(result, Mapping):
        return [dict(result)]
    if isinstance(result, list):
        return [dict(item) for item in result if isinstance(item, Mapping)]
    return []


class _SessionExpired(Exception):
    """Internal signal: the portal no longer accepts our session."""


class DvcqgClient:
    """Talks to one DVCQG adapter; keeps one session and renews it transparently when it expires."""

    def __init__(self, settings: DvcqgSettings, transport: Transport | None = None) -> None:
        self.settings = settings
        self._transport = transport or AiohttpTransport(timeout=settings.timeout)
        self._session: str | None = None
        self._login_lock = asyncio.Lock()
        self.login_count = 0

    async def __aenter__(self) -> DvcqgClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    # ---- envelope handling ---------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"dstcode": self.settings.dstcode} if self.settings.dstcode else {}

    def _envelope(self, reply: HttpReply, what: str) -> dict[str, Any]:
        """Turn an HTTP reply into the §4.1 JSON object, classifying every way it can be wrong."""
        if reply.status >= 500 or reply.status in _RETRYABLE_STATUSES:
            raise DvcqgUnavailableError(f"DVCQG {what}: HTTP {reply.status}", status=reply.status)
        if reply.status == 401:
            raise _SessionExpired
        if not 200 <= reply.status < 300:
            raise DvcqgProtocolError(f"DVCQG {what}: unexpected HTTP {reply.status}", status=reply.status)
        try:
            data = jsontext.loads(reply.body)
        except jsontext.JsonTextError:
            preview = reply.body[:80].decode("utf-8", "replace")
            raise DvcqgProtocolError(
                f"DVCQG {what}: reply is not JSON (content-type {reply.content_type!r}, starts {preview!r})",
                status=reply.status,
            ) from None
        if not isinstance(data, dict) or "error_code" not in data:
            raise DvcqgProtocolError(f"DVCQG {what}: reply has no error_code", status=reply.status)
        return data

    # ---- session -------------------------------------------------------------------------------------

    async def login(self) -> str:
        """Log in (§4.1) and keep the session; wrong credentials raise :class:`DvcqgAuthenticationError`."""
        url = self.settings.url(self.settings.auth_endpoint)
        reply = await self._transport.post_json(
            url, {"username": self.settings.username, "password": self.settings.password}, self._headers()
        )
        try:
            data = self._envelope(reply, "login")
        except _SessionExpired:
            raise DvcqgAuthenticationError("DVCQG login refused (HTTP 401)") from None
        session = data.get("session")
        code = str(data.get("error_code")).strip()
        if code in self.settings.retryable_error_codes:  # e.g. "portal busy": not the credentials' fault
            raise DvcqgServiceError("login", code, str(data.get("message", "")), retryable=True)
        if not is_ok_code(code) or not isinstance(session, str) or not session:
            raise DvcqgAuthenticationError(
                f"DVCQG login refused: error_code={data.get('error_code')!r}: {data.get('message', '')}"
            )
        self._session = session
        self.login_count += 1
        log.info("dvcqg.login", logins=self.login_count)
        return session

    async def _current_session(self) -> str:
        async with self._login_lock:
            if self._session is None:
                await self.login()
            assert self._session is not None
            return self._session

    async def _renew(self, stale: str) -> None:
        """Log in again unless another task already replaced the stale session."""
        async with self._login_lock:
            if self._session == stale:
                self._session = None
                log.info("dvcqg.session_expired")
                await self.login()

    # ---- generic call --------------------------------------------------------------------------------

    async def call(self, service: str, params: Mapping[str, Any] | None = None) -> DvcqgReply:
        """Call a service; re-login once on an expired session; error_code ≠ "00" raises a typed error."""
        endpoint = self.settings.share_endpoint if service in SHARE_SERVICES else self.settings.integration_endpoint
        url = self.settings.url(endpoint)
        for attempt in (1, 2):
            session = await self._current_session()
            # envelope keys last, so a parameter can never override the session, agency or service
            body = {**(params or {}), "session": session, "madonvi": self.settings.madonvi, "service": service}
            reply = await self._transport.post_json(url, body, self._headers())
            try:
                data = self._envelope(reply, service)
                code = str(data.get("error_code")).strip()
                if code in self.settings.session_expired_codes:
                    raise _SessionExpired
            except _SessionExpired:
                if attempt == 2:
                    raise DvcqgSessionError(f"DVCQG {service}: session rejected again right after login") from None
                await self._renew(session)
                continue
            if not is_ok_code(code):
                raise DvcqgServiceError(
                    service,
                    code,
                    str(data.get("message", "")),
                    retryable=code in self.settings.retryable_error_codes,
                )
            return DvcqgReply(service, code, str(data.get("message", "")), _rows(data.get("result")), data)
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- typed services ------------------------------------------------------------------------------

    async def dong_bo_ho_so_mc(
        self, records: Sequence[DossierRecord | Mapping[str, Any]], *, is_updating: bool
    ) -> DvcqgReply:
        """Push dossiers (``DongBoHoSoMC``); ``is_updating`` False for a first push, True for an update."""
        valid = _validate_all(records, validate_dossier)
        return await self.call(
            DONG_BO_HO_SO_MC,
            {"isUpdating": encode_is_updating(is_updating), "data": [r.to_wire() for r in valid]},
        )

    async def cap_nhat_tien_do_ho_so_mc(self, records: Sequence[ProgressRecord | Mapping[str, Any]]) -> DvcqgReply:
        """Send processing-progress records (``CapNhatTienDoHoSoMC``)."""
        valid = _validate_all(records, validate_progress)
        return await self.call(CAP_NHAT_TIEN_DO_HO_SO_MC, {"data": [r.to_wire() for r in valid]})

    async def tra_cuu_ho_so(self, ma_ho_so: str) -> list[dict[str, Any]]:
        """What the portal holds for a dossier number (``TraCuuHoSo``, param ``mahoso``); [] if nothing."""
        if not ma_ho_so:
            raise ValueError("ma_ho_so must not be empty")
        return (await self.call(TRA_CUU_HO_SO, {"mahoso": ma_ho_so})).rows

    async def lay_thu_tuc(self, ma_tthc: str) -> dict[str, Any] | None:
        """A national procedure (``LayThuTuc``, param ``maTTHC``), or None if the portal does not know it."""
        if not ma_tthc:
            raise ValueError("ma_tthc must not be empty")
        rows = (await self.call(LAY_THU_TUC, {"maTTHC": ma_tthc})).rows
        return rows[0] if rows else None

    async def lay_danh_sach_tthc(self, **params: Any) -> list[dict[str, Any]]:
        """The procedure list (``LayDanhSachTTHC``)."""
        return (await self.call(LAY_DANH_SACH_TTHC, params)).rows

    async def lay_danh_muc(self, service: str, **params: Any) -> list[dict[str, Any]]:
        """A catalogue read such as ``LayDanhMucCoQuan``; unknown catalogue names are refused locally."""
        if service not in CATALOGUE_SERVICES:
            known = ", ".join(sorted(CATALOGUE_SERVICES))
            raise ValueError(f"{service!r} is not a DVCQG catalogue service; known: {known}")
        return (await self.call(service, params)).rows


def _validate_all(records: Sequence[Any], validate: Callable[..., R]) -> list[R]:
    """Validate every record before sending any, reporting all bad fields at once (``data[i].Field``)."""
    if not records:
        raise ValueError("at least one record is required")
    problems: list[FieldProblem] = []
    valid: list[R] = []
    record_name = "record"
    for index, record in enumerate(records):
        try:
            valid.append(validate(record, prefix=f"data[{index}]"))
        except DossierValidationError as exc:
            problems.extend(exc.problems)
            record_name = exc.record
    if problems:
        raise DossierValidationError(problems, record=record_name)
    return valid
