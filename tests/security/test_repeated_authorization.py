"""Two `Authorization` headers in one request are refused (RFC 6750 §3.1 `invalid_request`), everywhere.

Before, every entry point took the first and ignored the rest, so a request whose first credential was
valid went through with a second one nobody checked (and a proxy or provider that reads the last header
would see another caller), and one whose first was garbage was a 401 even with a good second one.
"""

from __future__ import annotations

import base64

import httpx
import pytest
from sqlalchemy import func, select

from lgsp.audit.models import AuditEntry
from tests.security.conftest import OPEN, Stack, assert_problem


@pytest.fixture(scope="module")
def backend() -> str:
    """The header handling does not touch the store: one backend is enough."""
    return "sqlite"


def twice(first: str, second: str) -> list[tuple[str, str]]:
    return [("Authorization", first), ("Authorization", second)]


def audited(stack: Stack) -> int:
    with stack.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AuditEntry)).scalar_one())


def assert_bad_request(response: httpx.Response) -> None:
    assert_problem(response.status_code, response.headers.get("content-type", ""), response.json(), 400,
                   "bad-request")
    assert 'error="invalid_request"' in response.headers["www-authenticate"]
    assert "more than one Authorization header" in response.json()["detail"]


@pytest.mark.parametrize("order", ["valid first", "valid second"])
def test_the_gateway_refuses_two_credentials_and_calls_no_provider(stack: Stack, order: str) -> None:
    good = stack.auth()["Authorization"]
    headers = twice(good, "Bearer forged") if order == "valid first" else twice("Bearer forged", good)
    before = len(stack.recorder.raw_paths)
    response = stack.http.get(f"/services/{OPEN}/echo/x", headers=headers)
    assert_bad_request(response)
    assert len(stack.recorder.raw_paths) == before
    # the same call with the valid credential alone still goes through
    assert stack.http.get(f"/services/{OPEN}/echo/x", headers={"Authorization": good}).status_code == 200


def test_other_repeated_headers_are_not_refused(stack: Stack) -> None:
    """Only credentials must be single: repeated Accept or X-Forwarded-For headers are ordinary."""
    headers = [*stack.auth().items(), ("Accept", "text/plain"), ("Accept", "application/json"),
               ("X-Forwarded-For", "10.0.0.1"), ("X-Forwarded-For", "10.0.0.2")]
    assert stack.http.get(f"/services/{OPEN}/echo/y", headers=headers).status_code == 200


def test_the_api_refuses_two_credentials(stack: Stack) -> None:
    admin = stack.auth(stack.admin)["Authorization"]
    auditor = stack.auth(stack.auditor)["Authorization"]
    for path, good in (("/admin/clients", admin), ("/audit/entries", auditor),
                       ("/metrics", auditor)):
        assert stack.http.get(path, headers={"Authorization": good}).status_code == 200, path
        assert_bad_request(stack.http.get(path, headers=twice(good, "Bearer forged")))
    entries = audited(stack)
    response = stack.http.post("/audit/heads", headers=twice("Bearer forged", auditor))
    assert_bad_request(response)
    assert audited(stack) == entries


def test_the_token_endpoint_refuses_two_client_authentications(stack: Stack) -> None:
    pair = f"{stack.client.client_id}:{stack.client.client_secret}".encode()
    header = "Basic " + base64.b64encode(pair).decode()
    form = {"grant_type": "client_credentials"}
    assert stack.http.post("/oauth/token", data=form, headers={"Authorization": header}).status_code == 200
    response = stack.http.post("/oauth/token", data=form, headers=twice(header, "Basic Zm9yZ2VkOnNlY3JldA=="))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "access_token" not in response.json()
