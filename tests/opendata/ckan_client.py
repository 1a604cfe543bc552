"""Helpers the end-to-end tests use to look at CKAN the way a data consumer would (ckanapi)."""

from __future__ import annotations

from typing import Any

import httpx
from ckanapi import RemoteCKAN

from lgsp.opendata import CkanTarget


def remote(target: CkanTarget | str) -> RemoteCKAN:
    if isinstance(target, str):
        return RemoteCKAN(target)  # anonymous, like a developer pulling open data
    return RemoteCKAN(target.url, apikey=target.token)


def show(url: str, slug: str) -> dict[str, Any]:
    result: dict[str, Any] = remote(url).action.package_show(id=slug)
    return result


def count_named(url: str, slug: str, admin: CkanTarget) -> int:
    """How many datasets carry ``slug`` as name (0 or 1; 2 would be a duplicate)."""
    found = remote(admin).action.package_search(fq=f'name:"{slug}"', include_private=True, rows=10)
    return int(found["count"])


def download(url: str) -> bytes:
    response = httpx.get(url, timeout=30, follow_redirects=True)
    response.raise_for_status()
    return response.content
