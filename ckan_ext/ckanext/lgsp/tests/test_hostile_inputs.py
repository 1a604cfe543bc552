"""The defects the fuzzing in test_fuzz.py found, one deterministic test each (they failed on the old code)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ckan import logic
from ckan.tests import factories, helpers
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS

from ckanext.dcat.processors import RDFSerializer

from .portal import PORTAL
from .test_fuzz import PROFILES, assert_dcat_parses, dataset_fields

pytestmark = PORTAL

#: Each was a 500 from package_create (PostgreSQL, the UTF-8 codec, the JSON column or a CKAN validator).
RESOURCE_CASES = [("url", "\x00"), ("format", "\x00"), ("mimetype", "\x00"), ("format", 1),
                  ("custom", "\ud800"), ("custom", float("nan")), ("custom", float("inf")), ("size", 10**19)]
#: Each, once stored, made the dataset's DCAT (and /catalog.* holding it) a 500.
RESOURCE_DCAT_CASES = [("issued", 1), ("modified", True), ("access_url", 5), ("license", 5)]
DATASET_CASES = [("license_id", "\x00"), ("version", "\x00"), ("author", "\x00"), ("url", "\x00"),
                 ("extras", [{"key": "k", "value": "\x00"}]), ("groups", [{"name": "\x00"}]),
                 ("tag_string", False)]


@pytest.mark.parametrize(("field", "value"), RESOURCE_CASES + RESOURCE_DCAT_CASES)
def test_resource_values_ckan_cannot_store_or_serialise_are_validation_errors(field: str, value: Any) -> None:
    org = factories.Organization()
    with pytest.raises(logic.ValidationError) as exc:
        helpers.call_action("package_create", **dataset_fields(
            org, resources=[{"url": "http://x/a.csv", field: value}]))
    assert f"0.{field}" in str(exc.value.error_dict["resources"]), exc.value.error_dict
    dataset = helpers.call_action("package_create", **dataset_fields(org))
    with pytest.raises(logic.ValidationError) as exc:
        helpers.call_action("resource_create", package_id=dataset["id"], **{"url": "http://x/a.csv", field: value})
    assert field in exc.value.error_dict, exc.value.error_dict


@pytest.mark.parametrize(("field", "value"), DATASET_CASES)
def test_dataset_values_ckan_cannot_store_are_validation_errors(field: str, value: Any) -> None:
    org = factories.Organization()
    with pytest.raises(logic.ValidationError) as exc:
        helpers.call_action("package_create", **dataset_fields(org, **{field: value}))
    assert field in exc.value.error_dict, exc.value.error_dict


def test_api_answers_nan_deep_json_and_a_number_as_name_with_4xx(app: Any) -> None:
    token = factories.SysadminWithToken()["token"]
    org = factories.Organization()
    headers = {"Authorization": token, "Content-Type": "application/json"}
    body = json.dumps(dataset_fields(org, resources=[{"url": "http://x/a.csv", "x": float("nan")}]))
    assert "NaN" in body  # Python's json writes (and CKAN's reads) NaN
    answer = app.post("/api/3/action/package_create", data=body, headers=headers)
    assert answer.status_code == 409 and "resources" in answer.json["error"], answer.body[:300]
    deep = '{"name": ' + "[" * 5000 + "]" * 5000 + "}"
    for action in ("package_create", "lgsp_provenance_show"):
        answer = app.post(f"/api/3/action/{action}", data=deep, headers=headers)
        assert answer.status_code == 400 and answer.json["success"] is False, answer.body[:300]
    answer = app.post("/api/3/action/package_patch", data='{"name": 271017}', headers=headers)
    assert answer.status_code in (404, 409), answer.body[:300]


def _stored(publisher: dict[str, Any]) -> dict[str, Any]:
    org = factories.Organization(title="Sở TN&MT")
    return helpers.call_action("package_create", {"user": publisher["name"], "ignore_auth": False},
                               **dataset_fields(org, lgsp_managed=True, lgsp_run_id="run-1",
                                                resources=[{"name": "a.csv", "url": "http://x/a.csv",
                                                            "format": "CSV"}]))


@pytest.mark.parametrize("index", ["²", "1" * 5000])
def test_dcat_of_an_audit_index_int_refuses(publisher: dict[str, Any], index: str) -> None:
    """``str.isdigit`` is true for these, ``int`` refuses them: the DCAT of the dataset was a 500."""
    dataset = _stored(publisher)
    dataset["lgsp_audit_index"] = index
    assert_dcat_parses(dataset)


@pytest.mark.parametrize(("where", "value"), [("url", "\x01"), ("url", "then"), ("license_url", "then"),
                                               ("license_url", " ")])
def test_dcat_drops_iris_that_are_empty_or_relative(publisher: dict[str, Any], where: str, value: str) -> None:
    """A resource URL of control characters only became ``<>``, a licence URL ``then`` became ``<then>``:
    relative IRIs, refused by N-Triples and resolved to the wrong thing by RDF/XML and Turtle."""
    dataset = _stored(publisher)
    if where == "url":
        dataset["resources"][0]["url"] = value
    else:
        dataset[where] = value
    assert_dcat_parses(dataset)
    serializer = RDFSerializer(profiles=PROFILES)
    ref = serializer.graph_from_dataset(dataset)
    g = Graph().parse(data=serializer.g.serialize(format="nt"), format="nt")
    [dist] = g.objects(ref, DCAT.distribution)
    for node in (*g.objects(dist, DCAT.accessURL), *g.objects(dist, DCAT.downloadURL),
                 *g.objects(ref, DCTERMS.license)):
        assert isinstance(node, URIRef) and ":" in str(node), node
