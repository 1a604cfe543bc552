"""The served DCAT of the real CKAN, after lgsp's pipeline published the demo dataset, conforms to DCAT-AP 3:
pySHACL with the shapes shipped in schemas/shacl/dcat-ap-3, zero violations for /catalog.ttl and the
dataset's own /dataset/<slug>.ttl (catalogue, dataset and distributions)."""

from __future__ import annotations

from pathlib import Path

import httpx
from pyshacl import validate
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, SH

from lgsp.opendata import DatasetSpec, PipelineConfig, run_dataset

from .conftest import Ckan

SHAPES_DIR = Path(__file__).resolve().parents[2] / "schemas" / "shacl" / "dcat-ap-3"


def violations(graph: Graph) -> list[str]:
    shapes = Graph().parse(SHAPES_DIR / "dcat-ap-3-core.ttl")
    ontology = Graph().parse(SHAPES_DIR / "imports.ttl")
    _, report, _ = validate(graph, shacl_graph=shapes, ont_graph=ontology)
    assert isinstance(report, Graph)
    return sorted(f"{report.value(r, SH.focusNode)} {report.value(r, SH.resultPath)}: "
                  f"{report.value(r, SH.resultMessage)}" for r in report.subjects(RDF.type, SH.ValidationResult))


def fetch(url: str) -> Graph:
    response = httpx.get(url, timeout=60)
    response.raise_for_status()
    return Graph().parse(data=response.text, format="turtle")


async def test_served_catalogue_and_dataset_conform_to_dcat_ap_3(
        ckan: Ckan, spec: DatasetSpec, config: PipelineConfig) -> None:
    result = await run_dataset(spec, config)
    assert result.status == "created", result.message

    dataset = fetch(f"{ckan.url}/dataset/{spec.slug}.ttl")
    [ref] = [s for s in dataset.subjects(RDF.type, DCAT.Dataset)]
    assert len(list(dataset.objects(ref, DCAT.distribution))) == 2
    assert violations(dataset) == []

    catalog = fetch(f"{ckan.url}/catalog.ttl")
    [catalog_ref] = list(catalog.subjects(RDF.type, DCAT.Catalog))
    assert catalog.value(catalog_ref, DCTERMS.publisher) is not None
    assert violations(catalog) == []


def test_the_shapes_reject_what_the_output_used_to_be() -> None:
    """Not vacuous: a distribution with a literal format and a float byte size, a dataset without a title."""
    g = Graph()
    ds, dist = URIRef("urn:x:ds"), URIRef("urn:x:dist")
    g.add((ds, RDF.type, DCAT.Dataset))
    g.add((ds, DCTERMS.description, Literal("d")))
    g.add((ds, DCAT.distribution, dist))
    g.add((dist, RDF.type, DCAT.Distribution))
    g.add((dist, DCAT.accessURL, URIRef("http://x/aq.csv")))
    g.add((dist, DCTERMS["format"], Literal("CSV")))
    g.add((dist, DCAT.byteSize, Literal("46788.0")))
    found = " | ".join(violations(g))
    assert f"{DCTERMS.title}: Less than 1" in found
    assert str(DCTERMS["format"]) in found and str(DCAT.byteSize) in found
