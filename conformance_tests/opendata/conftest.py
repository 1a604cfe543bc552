"""Options and fixtures for the open-data portal conformance suite (any CKAN portal, by URL).

    pytest conformance_tests/opendata --portal-url https://opendata.cantho.gov.vn
    OPENDATA_PORTAL_URL=http://127.0.0.1:5000 pytest conformance_tests/opendata

Read-only: it lists the datasets published by lgsp (``lgsp_managed``), checks each against the portal's
own ckanext-scheming schema, parses the DCAT endpoints as RDF, and downloads every resource to compare
it with its recorded SHA-256 and row count. Nothing of lgsp is imported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opendata_portal import Portal

OPTIONS = {
    "url": ("OPENDATA_PORTAL_URL", None, "base URL of the CKAN portal under test"),
    "max-datasets": ("OPENDATA_MAX_DATASETS", "25", "check at most this many lgsp datasets"),
    "timeout": ("OPENDATA_TIMEOUT", "60", "seconds per request"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("opendata", "open-data portal conformance")
    for name, (env, _default, text) in OPTIONS.items():
        group.addoption(f"--portal-{name}", default=None, help=f"{text} (env {env})")


def _option(config: pytest.Config, name: str) -> str | None:
    env, default, _ = OPTIONS[name]
    value = config.getoption(f"--portal-{name}") or os.environ.get(env) or default
    return str(value) if value is not None else None


@pytest.fixture(scope="session")
def portal(pytestconfig: pytest.Config) -> Iterator[Portal]:
    url = _option(pytestconfig, "url")
    if not url:
        pytest.skip("portal not configured: pass --portal-url or set OPENDATA_PORTAL_URL")
    with httpx.Client(timeout=float(_option(pytestconfig, "timeout") or 60)) as http:
        yield Portal(http, url)


@pytest.fixture(scope="session")
def lgsp_datasets(portal: Portal, pytestconfig: pytest.Config) -> list[dict[str, Any]]:
    """Datasets the portal says lgsp published (paged through package_search)."""
    limit = int(_option(pytestconfig, "max-datasets") or 25)
    found: list[dict[str, Any]] = []
    start = 0
    while len(found) < limit:
        page = portal.action("package_search", rows=100, start=start, sort="metadata_modified desc")
        found += [d for d in page["results"] if str(d.get("lgsp_managed")).lower() == "true"]
        start += 100
        if start >= page["count"]:
            break
    if not found:
        pytest.fail("the portal lists no dataset with lgsp_managed=true; publish one first")
    return found[:limit]


@pytest.fixture(scope="session")
def dataset_schema(portal: Portal) -> dict[str, Any]:
    schema: dict[str, Any] = portal.action("scheming_dataset_schema_show", type="dataset")
    return schema
