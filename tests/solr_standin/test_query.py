"""The stand-in's Lucene subset: each case is a query CKAN or ckanext-dcat actually sends."""

from __future__ import annotations

import pytest

from .query import QuerySyntaxError, parse_query

DOC = {
    "id": "d1", "name": "can-tho-air", "title": "Chất lượng không khí Cần Thơ", "site_id": "lgsp",
    "state": "active", "capacity": "public", "tags": ["moi-truong", "khong-khi"],
    "permission_labels": ["public"], "metadata_modified": "2026-11-20T10:00:00.000000Z",
    "extras_topic": "moi-truong", "num_resources": 2, "private": False,
}


def matches(q: str, op: str = "AND") -> bool:
    return parse_query(q, op).score(DOC, ["text"]) > 0


@pytest.mark.parametrize("query", [
    "*:*",
    'name:"can-tho-air" OR id:"can-tho-air"',
    '+site_id:"lgsp" +capacity:public',
    "+site_id:lgsp",
    "+state:active",
    "+permission_labels:(public OR creator-x)",
    "tags:moi-truong",
    'tags:"khong-khi"',
    "title:can tho",
    "text:khong",
    "metadata_modified:[2026-11-01T00:00:00Z TO NOW]",
    "metadata_modified:[* TO *]",
    "num_resources:[1 TO 5]",
    "name:can-*",
    "-state:deleted",
    "capacity:public AND -tags:xyz",
    "private:false",
    "{!lucene}name:can-tho-air",
])
def test_matching_queries(query: str) -> None:
    assert matches(query), query


@pytest.mark.parametrize("query", [
    'name:"other" OR id:"other"',
    "+site_id:lgsp +state:deleted",
    "+permission_labels:(member-abc)",
    "tags:moi",  # string field: exact, not token match
    "metadata_modified:[2026-11-21T00:00:00Z TO *]",
    "metadata_modified:{* TO 2026-11-20T10:00:00.000000Z}",
    "-state:active",
    "capacity:public AND NOT name:can-tho-air",
    "title:hanoi",
])
def test_non_matching_queries(query: str) -> None:
    assert not matches(query), query


def test_default_operator_and_vs_or() -> None:
    assert matches("tags:moi-truong tags:nope", "OR")
    assert not matches("tags:moi-truong tags:nope", "AND")


def test_accents_are_folded_for_text_fields() -> None:
    assert matches("title:\"chat luong\"")
    assert matches("title:Cần")


@pytest.mark.parametrize("bad", ["name:(a OR b", 'title:"open', "metadata_modified:[a TO", "name:"])
def test_syntax_errors_are_reported(bad: str) -> None:
    with pytest.raises(QuerySyntaxError):
        parse_query(bad)
