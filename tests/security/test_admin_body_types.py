"""Admin JSON bodies take each field only as its own JSON type, over real HTTP (the security stack).

Before, `PUT /admin/limits {"rate": true}` stored a limit of 1 request/s (a JSON boolean taken as a number),
`"retry_attempts": "3"` and `"name": 7` were converted silently, `NaN` reached a timeout, and unknown keys
(a typo such as `"concurency"`) were dropped without a word, so the operator believed a limit was set. Now
each is a 422 problem+json naming the field, and nothing is written.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.conftest import CLIENT, DEPT, OPEN, Stack, assert_problem

ADMIN = "/admin"
SERVICE = {"name": "Probe", "base_url": "http://127.0.0.1:1"}

# (method, path, a valid body, field to spoil, spoilt value as JSON text)
CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("PUT", "/limits", {"service": OPEN, "rate": 5}, "rate", "true"),
    ("PUT", "/limits", {"service": OPEN, "quota": 5, "per": "day"}, "quota", "false"),
    ("PUT", "/limits", {"service": OPEN, "quota": 5, "per": "day"}, "quota", '"5"'),
    ("PUT", "/limits", {"service": OPEN, "concurrency": 2}, "concurrency", "2.5"),
    ("PUT", "/limits", {"service": OPEN, "concurrency": 2}, "concurency", "2"),  # a typo: unknown key
    ("PUT", "/limits", {"service": OPEN, "rate": 5}, "service", "1"),
    ("PUT", f"/services/{DEPT}/PROV/probe", SERVICE, "timeout_seconds", "true"),
    ("PUT", f"/services/{DEPT}/PROV/probe", SERVICE, "retry_attempts", '"3"'),
    ("PUT", f"/services/{DEPT}/PROV/probe", SERVICE, "keep_bodies", "1"),
    ("PUT", f"/services/{DEPT}/PROV/probe", SERVICE, "keep_bodies", '"yes"'),
    ("PUT", f"/services/{DEPT}/PROV/probe", SERVICE, "name", "7"),
    ("PUT", f"/services/{DEPT}/PROV/probe", SERVICE, "owner", '"x"'),
    ("PUT", f"/agencies/{DEPT}", {"name": "Sở Tư pháp"}, "name", "false"),
    ("PUT", f"/agencies/{DEPT}", {"name": "Sở Tư pháp"}, "colour", '"red"'),
    ("POST", "/clients", {"system": CLIENT, "scopes": ["gateway"]}, "description", "12"),
    ("POST", "/clients", {"system": CLIENT, "scopes": ["gateway"]}, "scopes", '"gateway"'),
    ("POST", "/clients", {"system": CLIENT, "scopes": ["gateway"]}, "sytem", '"x"'),
    ("POST", "/grants", {"client": CLIENT, "service": OPEN}, "methods", '"GET"'),
]


def send(stack: Stack, method: str, path: str, content: bytes) -> Any:
    return stack.http.request(method, ADMIN + path, content=content,
                              headers={**stack.auth(stack.admin), "Content-Type": "application/json"})


def spoilt(body: dict[str, Any], field: str, value_json: str) -> bytes:
    """``body`` with ``field`` set to the raw JSON text ``value_json`` (which json.dumps could not write)."""
    return json.dumps({**body, field: "__SPOILT__"}).replace('"__SPOILT__"', value_json).encode()


def state(stack: Stack) -> str:
    registry = stack.http.get(ADMIN + "/registry", headers=stack.auth(stack.admin))
    clients = stack.http.get(ADMIN + "/clients", headers=stack.auth(stack.admin))
    return registry.text + clients.text


@pytest.mark.parametrize(("method", "path", "body", "field", "value"), CASES,
                         ids=[f"{c[1]}-{c[3]}={c[4]}" for c in CASES])
def test_a_field_of_the_wrong_json_type_is_422_naming_it(stack: Stack, method: str, path: str,
                                                         body: dict[str, Any], field: str, value: str) -> None:
    before = state(stack)
    response = send(stack, method, path, spoilt(body, field, value))
    problem = assert_problem(response.status_code, response.headers["content-type"], response.json(), 422,
                             "validation-failed")
    assert field in {e["field"].split(".")[0] for e in problem["errors"]}, problem
    assert state(stack) == before


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_refused(stack: Stack, value: str) -> None:
    before = state(stack)
    for path, body, field in (("/limits", {"service": OPEN}, "rate"),
                              (f"/services/{DEPT}/PROV/probe", SERVICE, "timeout_seconds")):
        response = send(stack, "PUT", path, spoilt(body, field, value))
        assert_problem(response.status_code, response.headers["content-type"], response.json(), 422,
                       "validation-failed")
    assert state(stack) == before


@pytest.mark.parametrize("bad", ["a\x00b", "a\x01b", "a\x1bb"])
@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/clients", {"system": CLIENT, "scopes": ["gateway"]}, "description"),
    ("PUT", f"/services/{DEPT}/PROV/probe", SERVICE, "base_url"),
    ("PUT", "/limits", {"service": OPEN, "rate": 5}, "client"),
])
def test_control_characters_in_text_are_422(stack: Stack, method: str, path: str, body: dict[str, Any],
                                            field: str, bad: str) -> None:
    """NUL cannot be stored on PostgreSQL (a 500) and no control character belongs in an admin text."""
    before = state(stack)
    response = send(stack, method, path, json.dumps({**body, field: bad}).encode())
    problem = assert_problem(response.status_code, response.headers["content-type"], response.json(), 422,
                             "validation-failed")
    assert any(field in e["field"].split(".") for e in problem["errors"]), problem
    assert state(stack) == before


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)
BODIES = [("PUT", "/limits", {"service": OPEN, "rate": 5}), ("PUT", f"/services/{DEPT}/PROV/fuzz", SERVICE),
          ("PUT", f"/agencies/{DEPT}", {"name": "Sở Tư pháp"}),
          ("POST", "/grants", {"client": CLIENT, "service": OPEN}),
          ("POST", "/clients", {"system": CLIENT, "scopes": ["gateway"]}), ("POST", "/object-grants", {})]


@settings(max_examples=60, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(which=st.sampled_from(BODIES), key=st.sampled_from(["rate", "quota", "per", "name", "base_url",
                                                            "timeout_seconds", "scopes", "methods", "path",
                                                            "description", "client", "service", "kind", "zz"]),
       value=JSON_VALUES)
def test_fuzzed_admin_bodies_get_an_answer_never_a_500(stack: Stack, which: tuple[str, str, dict[str, Any]],
                                                       key: str, value: Any) -> None:
    method, path, body = which
    response = send(stack, method, path, json.dumps({**body, key: value}).encode())
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json", response.text
