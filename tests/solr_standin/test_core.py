"""The in-memory core: update semantics (commit visibility, replace by uniqueKey, delete by query),
select paging/sorting/facets/fl -- what CKAN's indexer and package_search rely on."""

from __future__ import annotations

import json

import pytest

from .core import SolrCore, SolrError


def add(core: SolrCore, *docs: dict[str, object], commit: bool = True) -> None:
    core.update(json.dumps(list(docs)).encode(), "application/json",
                {"commit": ["true"]} if commit else {})


def select(core: SolrCore, **params: str | list[str]) -> dict[str, object]:
    return core.select({k.replace("_", "."): v if isinstance(v, list) else [v] for k, v in params.items()})


def docs(n: int) -> list[dict[str, object]]:
    return [{"index_id": f"i{i}", "id": f"d{i}", "name": f"ds-{i}", "site_id": "lgsp", "state": "active",
             "organization": "org-a" if i % 2 else "org-b", "tags": ["x", f"t{i % 3}"],
             "metadata_modified": f"2026-11-{10 + i:02d}T00:00:00Z", "title": f"Dataset {i}"} for i in range(n)]


def test_adds_are_invisible_until_commit() -> None:
    core = SolrCore("c")
    add(core, *docs(2), commit=False)
    assert select(core, q="*:*")["response"]["numFound"] == 0  # type: ignore[index]
    core.update(b"<commit />", "text/xml", {})
    assert select(core, q="*:*")["response"]["numFound"] == 2  # type: ignore[index]


def test_add_replaces_by_unique_key_and_delete_by_query() -> None:
    core = SolrCore("c")
    add(core, *docs(3))
    add(core, {**docs(1)[0], "title": "renamed"})
    assert core.count() == 3
    found = select(core, q='name:"ds-0" OR id:"ds-0"', fq="+site_id:\"lgsp\"")["response"]
    assert found["docs"][0]["title"] == "renamed"  # type: ignore[index]
    core.update(b'<delete><query>+id:"d1" AND +site_id:"lgsp"</query></delete>', "text/xml",
                {"commit": ["true"]})
    assert core.count() == 2
    core.update(b"<delete><id>i2</id></delete>", "text/xml", {"commit": ["true"]})
    assert core.count() == 1


def test_paging_sorting_fields_and_facets() -> None:
    core = SolrCore("c")
    add(core, *docs(7))
    result = select(core, q="*:*", fq=["+site_id:lgsp", "+state:active"], sort="metadata_modified desc",
                    rows="3", start="1", fl="id name", facet="true", facet_field=["organization", "tags"],
                    facet_mincount="1", facet_limit="2")
    response = result["response"]
    assert response["numFound"] == 7  # type: ignore[index]
    assert [d["id"] for d in response["docs"]] == ["d5", "d4", "d3"]  # type: ignore[index]
    assert set(response["docs"][0]) == {"id", "name"}  # type: ignore[index]
    facets = result["facet_counts"]["facet_fields"]  # type: ignore[index]
    assert facets["organization"] == ["org-b", 4, "org-a", 3]  # by count, then value
    assert facets["tags"][:2] == ["x", 7]


def test_dismax_free_text_uses_query_fields() -> None:
    core = SolrCore("c")
    add(core, *docs(3))
    result = select(core, q="dataset 2", defType="dismax", qf="name^4 title^4 text")
    assert [d["id"] for d in result["response"]["docs"]] == ["d2"]  # type: ignore[index]


def test_bad_sort_and_bad_query_are_solr_errors() -> None:
    core = SolrCore("c")
    with pytest.raises(SolrError, match="Sort Order"):
        select(core, q="*:*", sort="name sideways")
    with pytest.raises(SolrError, match="SyntaxError"):
        select(core, q="name:(a OR")
