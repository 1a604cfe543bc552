"""The OpenAPI document says enough to build a client from, and the committed copy is what is served.

Each assertion names something the contract lacked (issue 20): security schemes and scopes, error
statuses as problem+json with one shared `Problem` schema, request bodies of the endpoints that read
their own body, typed success bodies, `/metrics` as text; plus the two behaviour fixes the fuzzer found
(405 without a complete `Allow`, a number taken as an audit time) and the self-hosted docs page.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lgsp.api.contract import PUBLISHED, published_text
from lgsp.problems import KINDS, PROBLEM_BASE, PROBLEM_CONTENT_TYPE
from tests.support.demo_stack import DemoStack

SPEC: dict[str, Any] = json.loads(published_text())
OPERATIONS = [(path, method, op) for path, item in SPEC["paths"].items() for method, op in item.items()]
PUBLIC = {("/oauth/token", "post"), ("/.well-known/jwks.json", "get"),
          ("/.well-known/oauth-authorization-server", "get"), ("/audit/consistency", "get"),
          ("/audit/keys", "get"), ("/audit/heads", "get"), ("/audit/checkpoint", "get"), ("/healthz", "get"),
          ("/readyz", "get"),
          ("/metrics", "get"), ("/signatures/verify", "post")}


def test_the_committed_spec_is_the_served_one() -> None:
    assert PUBLISHED.read_text(encoding="utf-8") == published_text(), (
        "schemas/openapi/lgsp.json is stale: run .venv/bin/python -m lgsp.api.contract")


def test_oauth2_client_credentials_with_scopes_per_operation() -> None:
    scheme = SPEC["components"]["securitySchemes"]["oauth2"]
    flow = scheme["flows"]["clientCredentials"]
    assert scheme["type"] == "oauth2" and flow["tokenUrl"] == "/oauth/token"
    assert set(flow["scopes"]) == {"gateway", "admin", "auditor"}
    for path, method, op in OPERATIONS:
        if (path, method) in PUBLIC:
            continue
        scopes = {s for requirement in op.get("security", []) for s in requirement.get("oauth2", [])}
        assert scopes, f"{method.upper()} {path} declares no OAuth2 scope"
        expected = "admin" if path.startswith("/admin") else "auditor" if path.startswith("/audit") else "gateway"
        assert expected in scopes, (method, path, scopes)
        assert {"401", "403"} <= set(op["responses"]), (method, path)


def test_every_error_is_a_problem_with_the_shared_schema() -> None:
    problem = SPEC["components"]["schemas"]["Problem"]
    assert set(problem["properties"]["type"]["anyOf"][0]["enum"]) >= {PROBLEM_BASE + kind for kind in KINDS}
    assert "HTTPValidationError" not in json.dumps(SPEC)
    for path, method, op in OPERATIONS:
        for status, response in op["responses"].items():
            if not status.startswith(("4", "5")) or path in ("/oauth/token", "/readyz"):
                continue
            content = response.get("content", {})
            assert list(content) == [PROBLEM_CONTENT_TYPE], (method, path, status, list(content))
            assert content[PROBLEM_CONTENT_TYPE]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_the_statuses_a_caller_meets_are_declared() -> None:
    def statuses(path: str, method: str) -> set[str]:
        return set(SPEC["paths"][path][method]["responses"])

    assert {"202", "400", "401", "403", "409", "413", "415", "422", "503"} <= statuses("/documents", "post")
    assert {"202", "400", "409", "413", "415", "422"} <= statuses("/dossiers/events", "post")
    assert {"404"} <= statuses("/documents/{doc_id}", "get") & statuses("/dossiers/events/{message_id}", "get")
    assert {"200", "400", "401", "413"} <= statuses("/oauth/token", "post")
    assert {"200", "404"} <= statuses("/audit/entries/{index}", "get")


def test_request_bodies_of_the_endpoints_that_read_their_own_body() -> None:
    def media(path: str, method: str) -> set[str]:
        return set(SPEC["paths"][path][method]["requestBody"]["content"])

    assert media("/documents", "post") == {"application/xml", "application/json"}
    assert media("/dossiers/events", "post") == {"application/json"}
    assert "multipart/form-data" in media("/signatures/verify", "post")
    assert media("/oauth/token", "post") == {"application/x-www-form-urlencoded"}
    assert media("/documents/{doc_id}/status", "put") == {"application/json"}
    form = SPEC["components"]["schemas"]["TokenForm"]
    assert form["required"] == ["grant_type"]


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, _ in OPERATIONS])
def test_success_bodies_are_typed(path: str, method: str) -> None:
    op = SPEC["paths"][path][method]
    for status, response in op["responses"].items():
        if not status.startswith("2") or status == "204":
            continue
        content = response["content"]
        for media_type, body in content.items():
            schema = body.get("schema", {})
            if media_type == "application/json":
                assert "$ref" in schema or (schema.get("type") == "array" and "$ref" in schema["items"]), (
                    path, method, status, schema)
            else:
                assert schema.get("type") == "string", (path, method, media_type, schema)


def test_metrics_are_text() -> None:
    assert list(SPEC["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]


def test_examples_come_from_the_demo_data() -> None:
    text = json.dumps(SPEC["components"]["schemas"], ensure_ascii=False)
    for value in ("000.00.12.H10/MOTCUA", "000.00.31.H10/HOTICH/khai-sinh", "Sở Tư pháp thành phố Cần Thơ"):
        assert value in text


def test_a_405_lists_every_method_of_the_resource(stack: DemoStack) -> None:
    response = httpx.request("PATCH", stack.url + "/admin/agencies/000.00.31.H10", timeout=10)
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"PUT", "DELETE"}


def test_audit_times_must_be_rfc3339(stack: DemoStack) -> None:
    headers = {"Authorization": f"Bearer {stack.token(stack.auditor)}"}
    refused = httpx.get(stack.url + "/audit/entries", params={"until": "0.5"}, headers=headers, timeout=10)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "query.until"
    fine = httpx.get(stack.url + "/audit/entries", params={"until": "2026-12-06T08:00:00+07:00"}, headers=headers,
                     timeout=10)
    assert fine.status_code == 200


def test_the_docs_page_uses_only_its_own_assets(stack: DemoStack) -> None:
    page = httpx.get(stack.url + "/docs", timeout=10)
    assert page.status_code == 200, page.text
    assert "/docs/assets/swagger-ui-bundle.js" in page.text and "cdn" not in page.text.lower()
    script = httpx.get(stack.url + "/docs/assets/swagger-ui-bundle.js", timeout=10)
    assert script.status_code == 200 and len(script.content) > 100_000
    assert httpx.get(stack.url + "/docs/assets/..%2f..%2fpyproject.toml", timeout=10).status_code == 404
