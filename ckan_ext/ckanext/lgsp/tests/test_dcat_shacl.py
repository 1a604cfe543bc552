"""The DCAT that ckanext-lgsp serves conforms to DCAT-AP 3 (pySHACL, shapes in schemas/shacl/dcat-ap-3):
the catalogue, a dataset shaped like the demo's air-quality dataset, and its CSV and JSON distributions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ckan.tests import factories, helpers
from pyshacl import validate
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, SH, SKOS

from ckanext.dcat.processors import RDFSerializer

from .portal import PORTAL

ROOT = Path(__file__).resolve().parents[4]
SHAPES_DIR = ROOT / "schemas" / "shacl" / "dcat-ap-3"
PROFILES = ["euro_dcat_ap_2", "lgsp_dcat"]
pytestmark = PORTAL


def violations(graph: Graph) -> list[str]:
    shapes = Graph().parse(SHAPES_DIR / "dcat-ap-3-core.ttl")
    ontology = Graph().parse(SHAPES_DIR / "imports.ttl")
    _, report, _ = validate(graph, shacl_graph=shapes, ont_graph=ontology)
    return sorted(f"{report.value(r, SH.focusNode)} {report.value(r, SH.resultPath)}: "
                  f"{report.value(r, SH.resultMessage)}" for r in report.subjects(RDF.type, SH.ValidationResult))


def demo_dataset(publisher: dict[str, Any]) -> dict[str, Any]:
    """What lgsp's pipeline publishes for lgsp/opendata/datasets/can-tho-air-quality.yaml."""
    org = factories.Organization(name="so-tnmt-can-tho", title="Sở Tài nguyên và Môi trường thành phố Cần Thơ")
    return helpers.call_action(
        "package_create", {"user": publisher["name"], "ignore_auth": False},
        name="can-tho-air-quality", title="Chất lượng không khí thành phố Cần Thơ",
        notes="Số liệu quan trắc chất lượng không khí theo giờ.", title_en="Cần Thơ air quality readings",
        notes_en="Hourly air-quality measurements.", owner_org=org["id"], agency_code="000.00.12.H10",
        topic="moi-truong", license_id="cc-by", frequency="hourly", spatial_code="92",
        spatial_name="Thành phố Cần Thơ", contact_name="Phòng Quản lý môi trường",
        contact_email="qlmt@stnmt.cantho.gov.vn", tags=[{"name": "khong-khi"}, {"name": "quan-trac"}],
        legal_basis="Quyết định phê duyệt danh mục dữ liệu mở", temporal_start="2026-01-01",
        lgsp_managed=True, lgsp_run_id="run-1", lgsp_row_count=240, lgsp_content_hash="ab" * 32,
        lgsp_source_service="000.00.12.H10/QTMT/chat-luong-khong-khi", lgsp_audit_index="5",
        lgsp_published_at="2026-12-06T10:00:00+00:00",
        resources=[
            {"name": "aq.csv", "url": "http://x/aq.csv", "format": "CSV", "mimetype": "text/csv",
             "size": 46788, "hash": "cd" * 32, "hash_algorithm": "sha256"},
            {"name": "aq.json", "url": "http://x/aq.json", "format": "JSON", "mimetype": "application/json",
             "size": 99000, "hash": "ef" * 32, "hash_algorithm": "sha256"},
        ])


def test_catalogue_dataset_and_distributions_conform(publisher: dict[str, Any]) -> None:
    dataset = demo_dataset(publisher)
    serializer = RDFSerializer(profiles=PROFILES)
    catalog_ref = serializer.graph_from_catalog()
    dataset_ref = serializer.graph_from_dataset(dataset)
    serializer.g.add((catalog_ref, DCAT.dataset, dataset_ref))
    g = serializer.g
    assert len(list(g.objects(dataset_ref, DCAT.distribution))) == 2
    assert violations(g) == []

    # what the shapes asked for, now in the output
    vie = URIRef("http://publications.europa.eu/resource/authority/language/VIE")
    assert (dataset_ref, DCTERMS.language, vie) in g and (catalog_ref, DCTERMS.language, vie) in g
    formats = {g.value(d, DCTERMS["format"]) for d in g.objects(dataset_ref, DCAT.distribution)}
    assert formats == {URIRef("http://publications.europa.eu/resource/authority/file-type/CSV"),
                       URIRef("http://publications.europa.eu/resource/authority/file-type/JSON")}
    theme = URIRef("https://data.gov.vn/topic/moi-truong")
    assert (theme, SKOS.prefLabel, Literal("Môi trường", lang="vi")) in g
    assert (URIRef("http://publications.europa.eu/resource/authority/frequency/HOURLY"), RDF.type,
            DCTERMS.Frequency) in g


def test_the_shapes_find_what_dcat_ap_forbids(publisher: dict[str, Any]) -> None:
    """Not vacuous: the same graph with a literal language, no title and a second publisher fails."""
    dataset = demo_dataset(publisher)
    serializer = RDFSerializer(profiles=PROFILES)
    ref = serializer.graph_from_dataset(dataset)
    g = serializer.g
    g.remove((ref, DCTERMS.title, None))
    g.add((ref, DCTERMS.language, Literal("vi")))
    found = violations(g)
    assert any(str(DCTERMS.title) in v and "Less than 1" in v for v in found), found
    assert any(str(DCTERMS.language) in v for v in found), found
    catalog = RDFSerializer(profiles=PROFILES)
    catalog_ref = catalog.graph_from_catalog()
    catalog.g.remove((catalog_ref, DCTERMS.publisher, None))
    assert any(str(DCTERMS.publisher) in v for v in violations(catalog.g))
