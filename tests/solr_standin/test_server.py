"""Over real HTTP, with the request shapes pysolr sends (JSON add, XML delete/commit, GET select)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from .server import make_server


@pytest.fixture()
def solr_url() -> Iterator[str]:
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/solr/ckan"
    finally:
        server.shutdown()
        server.server_close()


def test_schema_version_check_and_ping(solr_url: str) -> None:
    schema = httpx.get(f"{solr_url}/schema", params={"wt": "schema.xml"})
    assert schema.status_code == 200 and 'name="ckan-2.12"' in schema.text
    assert httpx.get(f"{solr_url}/admin/ping/", params={"wt": "json"}).json()["status"] == "OK"


def test_index_search_delete_cycle(solr_url: str) -> None:
    doc = {"index_id": "x1", "id": "p1", "name": "air", "site_id": "lgsp", "state": "active",
           "title": "Không khí", "tags": ["moi-truong"]}
    r = httpx.post(f"{solr_url}/update/?commit=true", json=[doc])
    assert r.status_code == 200
    hit = httpx.get(f"{solr_url}/select/", params={"q": "khong khi", "defType": "dismax", "wt": "json",
                                                  "fq": "+site_id:lgsp", "fl": "id name"}).json()
    assert hit["response"]["docs"] == [{"id": "p1", "name": "air"}]
    # pysolr switches to a form-encoded POST for long queries
    long_q = "name:air OR " + " OR ".join(f'id:"{i}"' for i in range(150))
    posted = httpx.post(f"{solr_url}/select/", data={"q": long_q, "wt": "json"})
    assert posted.json()["response"]["numFound"] == 1
    httpx.post(f"{solr_url}/update/?commit=true", content=b"<delete><query>id:p1</query></delete>",
               headers={"Content-Type": "text/xml"})
    assert httpx.get(f"{solr_url}/select/", params={"q": "*:*"}).json()["response"]["numFound"] == 0


def test_errors_use_solr_json_shape(solr_url: str) -> None:
    r = httpx.get(f"{solr_url}/select/", params={"q": "name:(oops"})
    assert r.status_code == 400
    assert "SyntaxError" in r.json()["error"]["msg"]
    assert httpx.get(f"{solr_url}/nope").status_code == 404
