"""ckan_ext's own tests run with CKAN's pytest plugin from CKAN's venv:

    var/ckan/venv/bin/pytest --ckan-ini=var/ckan/test-core.ini ckan_ext/ckanext/lgsp/tests

test-core.ini (written by scripts/ckan/ensure.sh) points at its own database and at the Solr TEST
DOUBLE (tests/solr_standin) under the core ``ckan_test``. If no stand-in answers there, one is
started in this process, so these tests need no running CKAN.
"""

from __future__ import annotations

import sys
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="session", autouse=True)
def solr_standin() -> None:
    from ckan.common import config

    url = str(config["solr_url"]).rstrip("/")
    try:
        urllib.request.urlopen(f"{url}/admin/ping", timeout=2)  # noqa: S310 - local test double
        return
    except OSError:
        pass
    sys.path.insert(0, str(ROOT / "tests"))
    from solr_standin.server import make_server

    parts = urlsplit(url)
    server = make_server(parts.hostname or "127.0.0.1", parts.port or 8983)
    threading.Thread(target=server.serve_forever, daemon=True).start()


@pytest.fixture()
def publisher(ckan_config: dict[str, str]) -> dict[str, str]:
    from ckan.tests import factories

    return factories.Sysadmin(name=ckan_config.get("ckanext.lgsp.publisher_user") or "lgsp_publisher")
