"""Wire helpers of the DVCQG conformance suite: the endpoint, the success test, timestamps.

A plain module (not conftest) so test files can import it by a unique name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

VIETNAM = timezone(timedelta(hours=7))


def is_ok(code: Any) -> bool:
    """Success is "00" on calls and 0 on login (§4.1 [C])."""
    return code is not None and not isinstance(code, bool) and str(code).strip() in {"00", "0"}


def is_refusal(code: Any) -> bool:
    """A refusal names a non-success code. A missing, null, empty or non-scalar ``error_code`` is not a
    refusal: an endpoint answering ``{"error_code": null}`` to everything must not pass the refusal checks."""
    if code is None or isinstance(code, bool) or not isinstance(code, (str, int)):
        return False
    return bool(str(code).strip()) and not is_ok(code)


@dataclass
class Endpoint:
    """The endpoint under test, spoken to over plain HTTP JSON."""

    http: httpx.Client
    url: str
    username: str
    password: str
    madonvi: str
    paths: dict[str, str]
    tthc: str | None

    def post(self, path_key: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(self.url.rstrip("/") + "/" + self.paths[path_key].lstrip("/"), json=body)
        assert response.status_code == 200, f"HTTP {response.status_code}: {response.text[:200]}"
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            raise AssertionError(f"the answer is not JSON: {response.text[:200]!r}") from None
        assert isinstance(data, dict) and "error_code" in data, f"not the §4.1 envelope: {str(data)[:200]}"
        return data

    def login(self, username: str | None = None, password: str | None = None) -> dict[str, Any]:
        return self.post("auth", {"username": username or self.username, "password": password or self.password})

    def call(self, service: str, session: str, path_key: str = "integration", **params: Any) -> dict[str, Any]:
        return self.post(path_key, {"session": session, "madonvi": self.madonvi, "service": service, **params})


def stamp(offset_days: int = 0) -> str:
    return (datetime.now(VIETNAM) + timedelta(days=offset_days)).strftime("%Y%m%d%H%M%S")
