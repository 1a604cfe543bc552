"""Bounded property-based fuzzing of ckanext-lgsp's entry points inside a real CKAN (hypothesis).

The rule: every input gets an answer -- success or a CKAN validation error (409 over HTTP), a 4xx JSON error,
never a 500 or a traceback -- and whatever a dataset holds, its DCAT serialises in every format the portal
serves and parses back. Each test is bounded (a few seconds): ``max_examples`` is small and the examples
are derandomised and not shrunk, so a CI run is deterministic; the hostile values that once broke something are listed
explicitly in ``NASTY`` so they are tried on every run, not only when the search happens upon them.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from ckan import logic
from ckan.tests import factories, helpers
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lxml import etree
from rdflib import Graph
from rdflib.namespace import DCAT

from ckanext.dcat.processors import RDFSerializer

from .portal import PORTAL

pytestmark = PORTAL
# No shrinking: a failure is reported with the example that found it, and a run stays bounded.
FUZZ = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
PROFILES = ["euro_dcat_ap_2", "lgsp_dcat"]

DATASET_FIELDS = (
    "title", "name", "title_en", "notes", "notes_en", "agency_code", "topic", "tag_string", "license_id",
    "frequency", "temporal_start", "temporal_end", "spatial_code", "spatial_name", "contact_name",
    "contact_email", "legal_basis", "issued", "modified", "language", "lgsp_managed", "lgsp_source_service",
    "lgsp_run_id", "lgsp_row_count", "lgsp_content_hash", "lgsp_source_hash", "lgsp_metadata_hash",
    "lgsp_audit_index", "lgsp_published_at", "license_url", "license_title", "url", "version",
)
RESOURCE_FIELDS = ("url", "name", "description", "format", "hash", "hash_algorithm", "size", "mimetype",
                   "issued", "modified", "language")
NASTY = [
    "", " ", "\x00", "a\x00b", "\x01", "\ud800", "\udfff\ud800", "\ufffe", "\uffff", "\u202e", "\U0001F600",
    "]]>", "<b>&amp;", "\r\n", "x" * 200_000, "1" * 5000, "9" * 400, "²", "٣", "①", "-1", "0x10", "1e400",
    "nan", "inf", "2026-02-30", "2026-13-01", "0000-00-00", "9999-12-31T23:59:60", "2026-01-01T25:00:00",
    "-99999-01-01", "2026-01-01T10:00:00+99:00", "000.00.12.H10", "000.00.12.H10\n", "92,", ",,", "92,93",
    "http://x/a b<c>", "javascript:alert(1)", "http://[::1", "mailto:", "cc-by", "CSV", "text/csv",
    "a/b/c", "\t", "T" * 100, "vi", "xx", "sha256", "md5", "POLYGON((", '{"type": "Point"}',
]
TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(blacklist_categories=()), max_size=40),  # every code point, surrogates included
)
VALUE = st.one_of(
    TEXT, TEXT, TEXT,
    st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=True), st.booleans(), st.none(),
    st.lists(TEXT, max_size=3), st.dictionaries(TEXT, TEXT, max_size=2),
)


def dataset_fields(org: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "name": "fuzz", "title": "Chất lượng không khí", "notes": "Số liệu quan trắc",
        "owner_org": org["id"], "agency_code": "000.00.12.H10", "topic": "moi-truong",
        "license_id": "cc-by", "frequency": "hourly", "spatial_code": "92", **overrides,
    }


def assert_dcat_parses(dataset: dict[str, Any]) -> None:
    """The dataset inside a catalogue, in every format the portal serves, parses back (lxml and rdflib)."""
    serializer = RDFSerializer(profiles=PROFILES)
    catalog_ref = serializer.graph_from_catalog()
    ref = serializer.graph_from_dataset(dataset)
    serializer.g.add((catalog_ref, DCAT.dataset, ref))
    for fmt, parse_as in (("xml", "xml"), ("turtle", "turtle"), ("nt", "nt"), ("json-ld", "json-ld")):
        output = serializer.g.serialize(format=fmt, encoding="utf-8")
        if parse_as == "xml":
            etree.fromstring(output)
        Graph().parse(data=output, format=parse_as)


@pytest.fixture()
def stored(publisher: dict[str, Any]) -> dict[str, Any]:
    org = factories.Organization(title="Sở TN&MT")
    return helpers.call_action("package_create", {"user": publisher["name"], "ignore_auth": False},
                               **dataset_fields(org, lgsp_managed=True, lgsp_run_id="run-1", lgsp_row_count=3,
                                                resources=[{"name": "a.csv", "url": "http://x/a.csv",
                                                            "format": "CSV", "size": 10}]))


@FUZZ
@given(data=st.data())
def test_dcat_of_any_stored_value_serialises_and_parses(stored: dict[str, Any], data: st.DataObject) -> None:
    """Values as a record may hold them (written before a validator existed, or by CKAN itself)."""
    dataset = json.loads(json.dumps(stored))
    for field in data.draw(st.lists(st.sampled_from(DATASET_FIELDS), min_size=1, max_size=4, unique=True)):
        dataset[field] = data.draw(TEXT)
    for field in data.draw(st.lists(st.sampled_from(RESOURCE_FIELDS), max_size=3, unique=True)):
        dataset["resources"][0][field] = data.draw(  # what the action guard (payload.py) lets be stored
            st.integers(0, 2**63 - 1) if field == "size" else TEXT)
    if data.draw(st.booleans()):
        dataset["organization"]["title"] = data.draw(TEXT)
    assert_dcat_parses(dataset)


def _created_or_invalid(action: str, context: dict[str, Any], data_dict: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return helpers.call_action(action, dict(context), **data_dict)
    except logic.ValidationError as error:
        assert error.error_dict, error  # a validation error names what is wrong
        return None


@FUZZ
@given(data=st.data())
def test_any_field_value_is_stored_or_a_validation_error_and_its_dcat_parses(
        publisher: dict[str, Any], data: st.DataObject) -> None:
    """package_create/resource_create through the real action layer with hostile values in every field: a
    validation error or a dataset, and a stored dataset serialises to DCAT (what /catalog.* would serve)."""
    context = {"user": publisher["name"], "ignore_auth": False}
    org = helpers.call_action("organization_show", id="fuzz-org") if _exists("fuzz-org") else \
        factories.Organization(name="fuzz-org")
    fields = {field: data.draw(VALUE) for field in
              data.draw(st.lists(st.sampled_from(DATASET_FIELDS), min_size=1, max_size=4, unique=True))}
    resource = {field: data.draw(VALUE) for field in
                data.draw(st.lists(st.sampled_from(RESOURCE_FIELDS), max_size=3, unique=True))}
    name = f"fuzz-{next(_NAMES)}"
    created = _created_or_invalid("package_create", context,
                                  dataset_fields(org, **{**fields, "name": name}, resources=[resource]))
    if created is None:  # the same values once more as a resource of a valid dataset
        created = _created_or_invalid("package_create", context, dataset_fields(org, name=name))
        assert created is not None
        _created_or_invalid("resource_create", context, {**resource, "package_id": created["id"]})
    assert_dcat_parses(helpers.call_action("package_show", id=created["id"]))


_NAMES = itertools.count()


def _exists(org: str) -> bool:
    try:
        helpers.call_action("organization_show", id=org)
    except logic.NotFound:
        return False
    return True


BODIES = st.one_of(
    st.builds(lambda fields: json.dumps(fields), st.dictionaries(st.sampled_from(DATASET_FIELDS), VALUE, max_size=4)),
    st.sampled_from([
        "", "{", "[]", "null", "1", '"x"', '{"name": NaN}', '{"title": Infinity}', '{"resources": [{"x": NaN}]}',
        '{"lgsp_row_count": 1' + "0" * 5000 + "}", '{"name": ' + "[" * 5000 + '"x"' + "]" * 5000 + "}",
        '{"name": "\\u0000"}', '{"name": "\\ud800"}', '{"id": "\\udfff"}', "\xff\xfe",
    ]),
)


@pytest.fixture()
def token() -> str:
    return str(factories.SysadminWithToken()["token"])


@FUZZ
@given(body=BODIES, action=st.sampled_from(["package_create", "package_update", "package_patch",
                                            "resource_create", "lgsp_provenance_show"]))
def test_http_action_api_answers_every_body_with_json_never_500(app: Any, token: str, body: str,
                                                                 action: str) -> None:
    answer = app.post(f"/api/3/action/{action}", data=body.encode("utf-8", "surrogatepass"),
                      headers={"Authorization": token, "Content-Type": "application/json"})
    assert answer.status_code in {200, 400, 403, 404, 409}, (answer.status_code, answer.body[:300])
    reply = answer.json  # CKAN's own 400 for a body that is not a JSON object is a JSON string
    assert isinstance(reply, str) or reply["success"] is (answer.status_code == 200), reply


ORIGINS = st.one_of(st.sampled_from(["null", "https://a.example\r\nSet-Cookie: x=1", "x" * 20000, "*",
                                     "https://a.example, https://b.example", "\x00", "\u00ff"]),
                    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60))
PATHS = st.sampled_from(["/api/3/action/status_show", "/catalog.ttl", "/catalog.rdf", "/catalog.jsonld",
                         "/catalog.xml", "/catalog.n3", "/dataset/fuzz.rdf", "/dataset/fuzz.ttl", "/dataset/",
                         "/api/3/action/lgsp_provenance_show?id=fuzz", "/dataset/fuzz"])
QUERIES = st.sampled_from(["", "?page=0", "?page=-1", "?page=abc", "?page=" + "9" * 30, "?modified_since=2026-02-30",
                           "?modified_since=x", "?q=%00", "?q=%ff", "?fq=(", "?sort=%22", "?profiles=nope",
                           "?id=%00", "?id=a&id=b"])


@FUZZ
@given(path=PATHS, query=QUERIES, origins=st.lists(ORIGINS, min_size=1, max_size=3),
       method=st.sampled_from(["GET", "HEAD", "OPTIONS"]))
def test_public_reads_answer_hostile_origins_and_queries_without_500(
        app: Any, stored: dict[str, Any], path: str, query: str, origins: list[str], method: str) -> None:
    """CORS: the Origin header is never reflected (the allowed origin is configured), so CR/LF, 20 kB or
    several Origin values change nothing; and the DCAT endpoints' own parameters answer 4xx, not 500."""
    # CR/LF are left out: the test client (werkzeug) refuses to send them, and so does any HTTP server
    headers = [("Origin", o.replace("\r", "").replace("\n", "")) for o in origins]
    answer = app.client.open(path + query, method=method, headers=headers)
    assert answer.status_code < 500, (path + query, answer.status_code, answer.body[:300])
    allowed = answer.headers.get("Access-Control-Allow-Origin")
    assert allowed in (None, "*"), allowed
    assert "Access-Control-Allow-Credentials" not in answer.headers
