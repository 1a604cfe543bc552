"""ckanext-lgsp inside a real CKAN (CKAN's own test fixtures): schema validation, the publisher-only
auth rule, lgsp_provenance_show, the DCAT mapping and the Vietnamese strings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from babel.support import Translations
from ckan import logic
from ckan.tests import factories, helpers
from rdflib import Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, PROV, RDF, RDFS, XSD

from ckanext.dcat.processors import RDFSerializer

from .portal import PORTAL

pytestmark = PORTAL


def dataset_fields(org: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "name": "chat-luong-khong-khi", "title": "Chất lượng không khí", "notes": "Số liệu quan trắc",
        "owner_org": org["id"], "agency_code": "000.00.12.H10", "topic": "moi-truong",
        "license_id": "cc-by", "frequency": "hourly", "spatial_code": "92", **overrides,
    }


def ctx(user: dict[str, Any]) -> dict[str, Any]:
    return {"user": user["name"], "ignore_auth": False}


def test_schema_validates_vietnamese_fields() -> None:
    org = factories.Organization()
    with pytest.raises(logic.ValidationError) as exc:
        helpers.call_action("package_create", **dataset_fields(org, agency_code="H10", spatial_code="9x",
                                                               topic="not-a-topic"))
    assert {"agency_code", "spatial_code", "topic"} <= set(exc.value.error_dict)
    created = helpers.call_action("package_create", **dataset_fields(org, title_en="Air quality"))
    assert created["agency_code"] == "000.00.12.H10" and created["title_en"] == "Air quality"
    assert created["language"] == "vi"


def test_managed_dataset_changes_only_by_publisher(publisher: dict[str, Any]) -> None:
    org = factories.Organization()
    admin = factories.Sysadmin()
    managed = helpers.call_action("package_create", ctx(publisher),
                                  **dataset_fields(org, lgsp_managed=True, lgsp_run_id="r1"))
    assert managed["lgsp_managed"] is True
    for action in ("package_update", "package_patch", "package_delete"):
        with pytest.raises(logic.NotAuthorized):
            helpers.call_auth(action, ctx(admin), id=managed["id"])
        assert helpers.call_auth(action, ctx(publisher), id=managed["id"])
    with pytest.raises(logic.NotAuthorized):
        helpers.call_auth("resource_create", ctx(admin), package_id=managed["id"])
    with pytest.raises(logic.NotAuthorized):  # nobody else may mint "managed" datasets either
        helpers.call_auth("package_create", ctx(admin), **dataset_fields(org, lgsp_managed=True))

    hand_made = helpers.call_action("package_create", **dataset_fields(org, name="tu-tay"))
    assert helpers.call_auth("package_update", ctx(admin), id=hand_made["id"])


def test_provenance_show(publisher: dict[str, Any]) -> None:
    org = factories.Organization()
    dataset = helpers.call_action("package_create", ctx(publisher), **dataset_fields(
        org, lgsp_managed=True, lgsp_source_service="000.00.12.H10/QTMT/aq", lgsp_run_id="run-7",
        lgsp_row_count=240, lgsp_content_hash="ab" * 32, lgsp_audit_index="1234",
        resources=[{"name": "aq.csv", "url": "http://x/aq.csv", "format": "CSV", "hash": "cd" * 32}]))
    provenance = helpers.call_action("lgsp_provenance_show", {"user": ""}, id=dataset["name"])
    assert provenance["managed"] is True and provenance["row_count"] == 240
    assert provenance["run_id"] == "run-7" and provenance["audit_index"] == 1234  # an integer, like row_count
    assert provenance["resources"][0]["sha256"] == "cd" * 32
    with pytest.raises(logic.NotFound):
        helpers.call_action("lgsp_provenance_show", id="missing")


def test_dcat_profile_maps_lgsp_fields(publisher: dict[str, Any]) -> None:
    org = factories.Organization(title="Sở TN&MT")
    dataset = helpers.call_action("package_create", ctx(publisher), **dataset_fields(
        org, lgsp_managed=True, lgsp_run_id="run-9", lgsp_row_count=3, lgsp_content_hash="ef" * 32,
        legal_basis="QĐ 123/QĐ-UBND", title_en="Air quality"))
    serializer = RDFSerializer(profiles=["euro_dcat_ap_2", "lgsp_dcat"])
    ref = serializer.graph_from_dataset(dataset)
    g = serializer.g
    assert (ref, URIRef("http://www.w3.org/ns/dcat#theme"), URIRef("https://data.gov.vn/topic/moi-truong")) in g
    assert (ref, DCTERMS.accrualPeriodicity,
            URIRef("http://publications.europa.eu/resource/authority/frequency/HOURLY")) in g
    assert (ref, DCTERMS.spatial, URIRef("https://danhmuchanhchinh.gso.gov.vn/dvhc/92")) in g
    assert (ref, DCTERMS.title, Literal("Air quality", lang="en")) in g
    publisher_node = g.value(ref, DCTERMS.publisher)
    assert (publisher_node, DCTERMS.identifier, Literal("000.00.12.H10")) in g
    activity = g.value(ref, PROV.wasGeneratedBy)
    assert (activity, DCTERMS.identifier, Literal("run-9")) in g
    assert "ef" * 32 in g.serialize(format="turtle")


def test_dcat_has_what_dcat_ap_and_harvesters_need(publisher: dict[str, Any]) -> None:
    org = factories.Organization(title="Sở TN&MT")
    dataset = helpers.call_action("package_create", ctx(publisher), **dataset_fields(
        org, lgsp_managed=True, lgsp_run_id="run-11", lgsp_row_count=3, lgsp_audit_index="17",
        resources=[{"name": "aq.csv", "url": "http://x/aq.csv", "format": "CSV", "size": 46788},
                   {"name": "aq.json", "url": "http://x/aq.json", "format": "JSON", "size": 1024}]))
    serializer = RDFSerializer(profiles=["euro_dcat_ap_2", "lgsp_dcat"])
    ref = serializer.graph_from_dataset(dataset)
    g = serializer.g
    licence = URIRef(dataset["license_url"])  # CKAN's licence register URL: what harvesting CKANs match
    assert str(licence).startswith("http") and licence != URIRef("https://creativecommons.org/licenses/by/4.0/")
    assert (ref, DCTERMS.license, licence) in g and (licence, RDF.type, DCTERMS.LicenseDocument) in g
    assert (licence, RDFS.seeAlso, URIRef("https://creativecommons.org/licenses/by/4.0/")) in g
    distributions = list(g.objects(ref, DCAT.distribution))
    assert len(distributions) == 2
    for dist in distributions:
        assert (dist, DCTERMS.license, licence) in g
        assert str(g.value(dist, DCAT.downloadURL)) in {"http://x/aq.csv", "http://x/aq.json"}
        [size] = g.objects(dist, DCAT.byteSize)
        assert size.datatype == XSD.nonNegativeInteger and str(size) in {"46788", "1024"}
    for subject in (ref, *distributions):
        for value in (*g.objects(subject, DCTERMS.issued), *g.objects(subject, DCTERMS.modified)):
            if value.datatype == XSD.dateTime:
                assert str(value).endswith("+00:00"), value
    assert g.value(ref, URIRef("https://lgsp.cantho.gov.vn/ns#audit_index")) == Literal(17, datatype=XSD.integer)

    catalog = RDFSerializer(profiles=["euro_dcat_ap_2", "lgsp_dcat"])
    catalog_ref = catalog.graph_from_catalog()
    c = catalog.g
    assert c.value(catalog_ref, DCTERMS.description) is not None
    publisher_node = c.value(catalog_ref, DCTERMS.publisher)
    assert (publisher_node, DCTERMS.identifier, Literal("000.00.12.H10")) in c
    assert c.value(publisher_node, URIRef("http://xmlns.com/foaf/0.1/name")) is not None


def test_cors_on_public_reads_only(app: Any) -> None:
    api = app.get("/api/3/action/status_show", headers={"Origin": "https://dashboard.example"})
    assert api.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in api.headers
    catalog = app.get("/catalog.ttl", headers={"Origin": "https://dashboard.example"})
    assert catalog.headers.get("Access-Control-Allow-Origin") == "*"
    page = app.get("/dataset/", headers={"Origin": "https://dashboard.example"})
    assert "Access-Control-Allow-Origin" not in page.headers  # HTML pages of the portal are not open data
    posted = app.post("/api/3/action/package_create", json={}, headers={"Origin": "https://evil.example"},
                      status=403)
    assert "Access-Control-Allow-Origin" not in posted.headers


def test_dataset_page_carries_the_dublin_core_set(app: Any, publisher: dict[str, Any]) -> None:
    org = factories.Organization(title="Sở Tài nguyên và Môi trường")
    helpers.call_action("package_create", ctx(publisher), **dataset_fields(
        org, lgsp_managed=True, lgsp_run_id="run-12", lgsp_source_service="000.00.25.H10/QUANTRAC/aq",
        tags=[{"name": "quan-trac"}]))
    page = app.get("/dataset/chat-luong-khong-khi").body
    for element in ("title", "creator", "date", "description", "publisher", "identifier",
                    "language", "source", "subject"):
        assert f'<meta name="DC.{element}"' in page, element
    assert 'content="Sở Tài nguyên và Môi trường — 000.00.12.H10"' in page  # publisher with its agency id
    assert 'id="lgsp-dublin-core"' in page


def test_vietnamese_and_english_strings() -> None:
    i18n = Path(__file__).resolve().parents[1] / "i18n"
    message = "This dataset is published by lgsp; only the lgsp publisher account may change it."
    vi = Translations.load(str(i18n), ["vi"], domain="ckanext-lgsp")
    en = Translations.load(str(i18n), ["en"], domain="ckanext-lgsp")
    assert vi.gettext(message).startswith("Bộ dữ liệu này do lgsp xuất bản")
    assert en.gettext(message) == message


HOSTILE = "T\x00\x01\x08\x0b\x0c\x1f \ufffe\uffff ]]> <b>&amp; \u202e \U0001F600 Cha\u0302\u0301t \ud800 end"


def test_dcat_of_stored_text_xml_cannot_carry_still_parses_in_every_format(publisher: dict[str, Any]) -> None:
    """A title with U+0001 made /catalog.rdf malformed for the whole portal; what is already stored is
    cleaned on the way out, and every serialisation parses back (lxml for the XML, rdflib for all)."""
    from lxml import etree
    from rdflib import Graph

    org = factories.Organization(title="Sở TN&MT")
    dataset = helpers.call_action("package_create", ctx(publisher), **dataset_fields(
        org, lgsp_managed=True, lgsp_run_id="run-13", lgsp_source_service="000.00.25.H10/Q/aq",
        resources=[{"name": "aq.csv", "url": "http://x/aq.csv", "format": "CSV"}]))
    for key in ("title", "notes", "title_en", "notes_en", "legal_basis", "spatial_name", "lgsp_run_id"):
        dataset[key] = f"{key} {HOSTILE}"
    dataset["organization"]["title"] = f"org {HOSTILE}"
    dataset["resources"][0].update(name=f"res {HOSTILE}", description=HOSTILE,
                                   url='http://x/a b<c>"{}|^`\\\x01.csv')
    for fmt, parse_as in (("xml", "xml"), ("pretty-xml", "xml"), ("turtle", "turtle"), ("nt", "nt"),
                          ("json-ld", "json-ld")):
        serializer = RDFSerializer(profiles=["euro_dcat_ap_2", "lgsp_dcat"])
        catalog_ref = serializer.graph_from_catalog()
        ref = serializer.graph_from_dataset(dataset)
        serializer.g.add((catalog_ref, DCAT.dataset, ref))
        output = serializer.g.serialize(format=fmt, encoding="utf-8")
        if parse_as == "xml":
            etree.fromstring(output)
        g = Graph().parse(data=output, format=parse_as)
        [title] = [str(t) for t in g.objects(ref, DCTERMS.title) if t.language != "en"]
        assert title.startswith("title T") and "]]> <b>&amp;" in title and "\U0001F600" in title, (fmt, title)
        [dist] = g.objects(ref, DCAT.distribution)
        assert str(g.value(dist, DCAT.downloadURL)) == "http://x/a%20b%3Cc%3E%22%7B%7D%7C%5E%60%5C.csv", fmt


@pytest.mark.parametrize("text", ["a\x00b", "a\x01b", "a\ufffeb", "a\ud800b"])
def test_text_xml_cannot_carry_is_a_validation_error_naming_the_field(text: str) -> None:
    org = factories.Organization()
    with pytest.raises(logic.ValidationError) as exc:
        helpers.call_action("package_create", **dataset_fields(
            org, title=text, notes=text, title_en=text, legal_basis=text,
            resources=[{"name": text, "description": text, "url": "http://x/a.csv"}]))
    errors = exc.value.error_dict
    assert {"title", "notes", "title_en", "legal_basis", "resources"} <= set(errors), errors
    ok = helpers.call_action("package_create", **dataset_fields(org, title="Tab\tand\nnew line \U0001F600 ok"))
    assert ok["title"] == "Tab\tand\nnew line \U0001F600 ok"


def test_api_answers_hostile_text_and_wrong_types_with_409_not_500(app: Any) -> None:
    sysadmin = factories.SysadminWithToken()
    org = factories.Organization()
    headers = {"Authorization": sysadmin["token"], "Content-Type": "application/json"}
    for text in ("a\\u0000b", "a\\ud800b"):  # JSON escapes: NUL failed at PostgreSQL, the surrogate at UTF-8
        body = json.dumps(dataset_fields(org, name=f"hostile-{len(text)}"), ensure_ascii=False)
        body = body.replace('"Chất', f'"{text}Chất')  # the title
        answer = app.post("/api/3/action/package_create", data=body.encode(), headers=headers, status=409)
        assert "title" in answer.json["error"], answer.json
    for query in ("id=a&id=b", "id=%00"):
        answer = app.get(f"/api/3/action/lgsp_provenance_show?{query}", status=409)
        assert "id" in answer.json["error"]
    for ref in (["a"], {"a": 1}, 5):
        answer = app.post("/api/3/action/lgsp_provenance_show", json={"id": ref}, status=409)
        assert "id" in answer.json["error"]
