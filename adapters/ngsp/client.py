"""Async NGSP client: lgsp's mediation library for JSON <-> SOAP, aiohttp for the HTTP exchange.

This is what the gateway does for a mediated call, packaged for direct use by the demo, the bench and
department-side scripts: build the envelope with X-Road headers from the caller's identity, POST it, and
turn the reply into JSON or a typed :class:`~lgsp.sdk.soap.MediationError`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from lgsp.sdk.soap import SoapService, XRoadClient, XRoadHeaders, XRoadService

from .paths import WSDL_PATH

__all__ = ["DEFAULT_PROVIDER", "NgspClient"]

# X-Road identity of the (simulated) national provider: instance/class/member/subsystem.
DEFAULT_PROVIDER = "VN/GOV/000.00.00.G01/NGSP"


class NgspClient:
    """Calls one NGSP-style SOAP endpoint; reuse one instance (it keeps an aiohttp connection pool)."""

    def __init__(
        self,
        endpoint: str,
        client: XRoadClient | str,
        *,
        provider: str = DEFAULT_PROVIDER,
        service_version: str | None = "v1",
        session: aiohttp.ClientSession | None = None,
        timeout: float = 10.0,
        wsdl_path: Path = WSDL_PATH,
    ) -> None:
        self.endpoint = endpoint
        self.client_id = XRoadClient.parse(client) if isinstance(client, str) else client
        parts = provider.split("/")
        if len(parts) != 4:
            raise ValueError(f"provider {provider!r} must be INSTANCE/CLASS/MEMBER/SUBSYSTEM")
        self._provider = parts
        self._version = service_version
        self.service = SoapService.from_wsdl(wsdl_path)
        self._own_session = session is None
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def headers_for(self, operation: str, user_id: str | None = None) -> XRoadHeaders:
        """X-Road headers for one call: our client id, the provider's service id, a fresh message id."""
        i, c, m, s = self._provider
        return XRoadHeaders(self.client_id, XRoadService(i, c, m, s, operation, self._version), user_id=user_id)

    async def call(
        self,
        operation: str,
        body: Any,
        *,
        user_id: str | None = None,
        extra_http_headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Mediated call: JSON in, JSON out; raises MediationError subclasses, aiohttp errors on transport."""
        envelope, headers = self.service.build_request(operation, body, self.headers_for(operation, user_id))
        if extra_http_headers:
            headers = {**headers, **extra_http_headers}
        session = self._ensure_session()
        async with session.post(self.endpoint, data=envelope, headers=headers, timeout=self._timeout) as resp:
            data = await resp.read()
            return self.service.parse_response(operation, resp.status, resp.headers.get("Content-Type"), data)

    async def verify_citizen(
        self, so_dinh_danh: str, ho_va_ten: str, ngay_sinh: dt.date | str, *, user_id: str | None = None
    ) -> dict[str, Any]:
        """XacThucThongTinCongDan: does this ID number belong to this name and birth date?"""
        birth = ngay_sinh.isoformat() if isinstance(ngay_sinh, dt.date) else ngay_sinh
        body = {"SoDinhDanh": so_dinh_danh, "HoVaTen": ho_va_ten, "NgaySinh": birth}
        return await self.call("XacThucThongTinCongDan", body, user_id=user_id)

    async def lookup_business(self, ma_so_thue: str, *, user_id: str | None = None) -> dict[str, Any]:
        """TraCuuDoanhNghiep: the business registered under a tax code."""
        return await self.call("TraCuuDoanhNghiep", {"MaSoThue": ma_so_thue}, user_id=user_id)

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> NgspClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
