"""Integers the store cannot hold get a 4xx naming the parameter, never a 500.

Audit indexes, tree sizes, grant ids and statuses are signed 64-bit columns; a number past that range
used to reach the driver, which refused to bind it, and the caller got a 500. This walks the served
OpenAPI document, so an operation added later with an unbounded integer parameter fails here too.
schemathesis (test_fuzz.py) rarely draws numbers this large.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.support.demo_stack import DemoStack

OUT_OF_RANGE = (2**63, -(2**63) - 1, 10**30)


def _is_integer(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "integer" or any(_is_integer(s) for s in schema.get("anyOf", []))


def _integer_parameters(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, path template, operation, parameter name) for every integer path or query parameter."""
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("path", "query") and _is_integer(parameter.get("schema", {})):
                    found.append((method, path, operation, parameter["name"]))
    return found


def _request(method: str, path: str, operation: dict[str, Any], name: str,
             value: int) -> tuple[str, str, dict[str, str]]:
    """The operation's URL with ``name`` = ``value`` and every other required parameter given a valid-looking value."""
    query: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        other = str(value) if parameter["name"] == name else ("1" if _is_integer(parameter.get("schema", {})) else "x")
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", other)
        elif parameter["in"] == "query" and (parameter["name"] == name or parameter.get("required")):
            query[parameter["name"]] = other
    return method.upper(), path, query


def test_the_sweep_finds_the_integer_parameters(stack: DemoStack) -> None:
    names = {(path, name) for _, path, _, name in _integer_parameters(httpx.get(stack.url + "/openapi.json").json())}
    assert {("/audit/entries/{index}", "index"), ("/audit/entries", "after"), ("/audit/heads", "size"),
            ("/admin/grants/{grant_id}", "grant_id")} <= names


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_out_of_range_integers_get_a_problem_not_a_500(stack: DemoStack, value: int) -> None:
    tokens = {"admin": stack.token(stack.admin), "auditor": stack.token(stack.auditor),
              "gateway": stack.token(stack.client)}
    spec = httpx.get(stack.url + "/openapi.json").json()
    failures = []
    for method, template, operation, name in _integer_parameters(spec):
        duty = "admin" if template.startswith("/admin/") else (
            "auditor" if re.match(r"^/audit/|^/metrics$", template) else "gateway")
        verb, path, query = _request(method, template, operation, name, value)
        response = httpx.request(verb, stack.url + path, params=query, timeout=10,
                                 headers={"Authorization": f"Bearer {tokens[duty]}"})
        if response.status_code >= 500 or not 400 <= response.status_code < 500:
            failures.append(f"{verb} {path} {query}: {response.status_code} {response.text[:200]}")
        elif response.headers["content-type"] != "application/problem+json":
            failures.append(f"{verb} {path} {query}: {response.headers['content-type']}")
    assert not failures, "\n".join(failures)
