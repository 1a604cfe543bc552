"""Conformance of an open-data portal fed by lgsp: schema, DCAT, downloadable resources, hashes."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from typing import Any

import pytest
from opendata_portal import Portal
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, RDF

AGENCY_RE = re.compile(r"^[0-9A-Z]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}$")
ASCII_SLUG = re.compile(r"^[a-z0-9_-]{2,100}$")
PROVENANCE = ("lgsp_source_service", "lgsp_run_id", "lgsp_row_count", "lgsp_content_hash")
RDF_FORMATS = {"ttl": "turtle", "rdf": "xml", "jsonld": "json-ld"}


def test_status_show_answers(portal: Portal) -> None:
    status = portal.action("status_show")
    assert "lgsp" in status["extensions"] and "dcat" in status["extensions"]


def test_datasets_validate_against_the_portal_schema(lgsp_datasets: list[dict[str, Any]],
                                                     dataset_schema: dict[str, Any]) -> None:
    problems: list[str] = []
    for dataset in lgsp_datasets:
        name = dataset["name"]
        if not ASCII_SLUG.match(name):
            problems.append(f"{name}: slug is not ASCII")
        for field in dataset_schema["dataset_fields"]:
            key, value = field["field_name"], dataset.get(field["field_name"])
            if field.get("required") and value in (None, "", []):
                problems.append(f"{name}: required field {key} empty")
            choices = {c["value"] for c in field.get("choices", [])}
            if choices and value not in (None, "") and value not in choices:
                problems.append(f"{name}: {key}={value!r} not one of the schema's choices")
        if not AGENCY_RE.match(str(dataset.get("agency_code", ""))):
            problems.append(f"{name}: agency_code {dataset.get('agency_code')!r} malformed")
        for key in PROVENANCE:
            if dataset.get(key) in (None, ""):
                problems.append(f"{name}: provenance field {key} missing")
        if not dataset.get("resources"):
            problems.append(f"{name}: no resources")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("extension", sorted(RDF_FORMATS))
def test_catalog_dcat_endpoint_is_valid_rdf(portal: Portal, extension: str) -> None:
    response = portal.get(f"/catalog.{extension}")
    assert response.status_code == 200, response.text[:300]
    graph = Graph().parse(data=response.content, format=RDF_FORMATS[extension])
    assert list(graph.subjects(RDF.type, DCAT.Catalog)), "no dcat:Catalog"
    assert list(graph.subjects(RDF.type, DCAT.Dataset)), "catalog lists no dcat:Dataset"


def test_dataset_dcat_endpoints_are_valid_rdf(portal: Portal, lgsp_datasets: list[dict[str, Any]]) -> None:
    for dataset in lgsp_datasets:
        for extension, rdf_format in RDF_FORMATS.items():
            response = portal.get(f"/dataset/{dataset['name']}.{extension}")
            assert response.status_code == 200, f"{dataset['name']}.{extension}: {response.status_code}"
            graph = Graph().parse(data=response.content, format=rdf_format)
            datasets = list(graph.subjects(RDF.type, DCAT.Dataset))
            assert len(datasets) == 1, f"{dataset['name']}.{extension}: {len(datasets)} dcat:Dataset"
            distributions = set(graph.objects(datasets[0], DCAT.distribution))
            assert len(distributions) == len(dataset["resources"])
            assert all(isinstance(d, URIRef) for d in distributions)


def test_resources_download_and_match_recorded_hashes(portal: Portal,
                                                      lgsp_datasets: list[dict[str, Any]]) -> None:
    for dataset in lgsp_datasets:
        provenance = portal.action("lgsp_provenance_show", id=dataset["name"])
        assert provenance["content_hash"] == dataset["lgsp_content_hash"]
        for resource in provenance["resources"]:
            response = portal.get(resource["url"])
            assert response.status_code == 200, f"{resource['url']}: {response.status_code}"
            digest = hashlib.sha256(response.content).hexdigest()
            assert digest == resource["sha256"], f"{resource['url']}: sha256 {digest} != recorded"
            if (resource["format"] or "").upper() == "CSV":
                rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
                assert len(rows) - 1 == provenance["row_count"], f"{resource['url']}: row count"
