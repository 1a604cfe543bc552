"""The wire client the open-data conformance suite uses: CKAN's Action API over plain httpx."""

from __future__ import annotations

from typing import Any

import httpx


class Portal:
    """A CKAN Action API client over plain httpx (the wire protocol, no ckanapi)."""

    def __init__(self, http: httpx.Client, url: str) -> None:
        self.http, self.url = http, url.rstrip("/")

    def action(self, name: str, **params: Any) -> Any:
        response = self.http.post(f"{self.url}/api/3/action/{name}", json=params)
        body = response.json()
        assert response.status_code == 200 and body.get("success"), f"{name}: {response.status_code} {body}"
        return body["result"]

    def get(self, path_or_url: str) -> httpx.Response:
        url = path_or_url if path_or_url.startswith("http") else f"{self.url}{path_or_url}"
        return self.http.get(url, follow_redirects=True)
