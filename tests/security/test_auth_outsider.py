"""An outsider's probe of `/oauth/token` and of bearer tokens on the gateway and the admin API.

Each test here failed on the code before it: a 500 (``Basic `` with nothing after it, a NUL in a client
id on PostgreSQL, a signed token whose `system` is not a string), credentials authlib read differently
from the failure throttle, parameters or client authentications given twice and silently resolved, and
an answer that told an unknown client id from a wrong secret.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import event
from structlog.testing import capture_logs

from lgsp.auth import keys as auth_keys
from lgsp.auth.clients import create_client
from lgsp.auth.throttle import FailureThrottle
from lgsp.auth.tokens import AUDIENCE
from tests.security.conftest import CLIENT, OPEN, Stack, assert_problem
from tests.security.rawhttp import RawResponse, request

FORM = "application/x-www-form-urlencoded"
GRANT = b"grant_type=client_credentials"


@pytest.fixture(autouse=True)
def no_lockout(stack: Stack) -> Iterator[None]:
    """Every test starts with an empty failure throttle: these probes fail on purpose."""
    runtime = stack.app.runtime
    throttle = runtime.token_failures
    runtime.token_failures = FailureThrottle(throttle.limit, throttle.window)
    yield
    runtime.token_failures = throttle


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def token_request(stack: Stack, body: bytes, authorization: str | None = None, content_type: str = FORM) -> (
    RawResponse
):
    headers = {"Content-Type": content_type}
    if authorization is not None:
        headers["Authorization"] = authorization
    return request(stack.url, "POST", "/oauth/token", headers=headers, body=body)


def basic(stack: Stack, secret: str | None = None) -> str:
    return "Basic " + b64(f"{stack.client.client_id}:{secret or stack.client.client_secret}".encode())


def no_server_errors(logs: list[dict[str, object]]) -> None:
    assert not [e for e in logs if e.get("log_level") in ("error", "critical") or e.get("exc_info")], logs


def assert_oauth_error(response: RawResponse, status: int, error: str) -> dict[str, str]:
    assert response.status == status, response.body
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["error"] == error and isinstance(body.get("error_description"), str), body
    return dict(body)


def test_basic_with_nothing_after_it_is_invalid_client(stack: Stack) -> None:
    """authlib split ``Basic `` (a space, then nothing) into one part and raised: a 500."""
    with capture_logs() as logs:
        for header in ("Basic ", "Basic  ", "basic \t"):
            response = token_request(stack, GRANT, header)
            assert_oauth_error(response, 401, "invalid_client")
            assert response.headers["www-authenticate"].startswith("Basic")
    no_server_errors(logs)


def test_a_nul_in_the_client_id_is_invalid_client(stack: Stack) -> None:
    """PostgreSQL refuses a NUL in a query parameter: the client lookup raised DataError, a 500."""
    bodies_and_headers = [
        (GRANT + b"&client_id=c_%00x&client_secret=s", None),
        (GRANT, "Basic " + b64(b"c_\x00x:s")),
        (GRANT, "Basic " + b64(b"c_%00x:s")),  # percent-encoded, as RFC 6749 §2.3.1 allows
        (GRANT + b"&client_id=c_%0D%0Ax&client_secret=s", None),
        (GRANT + b"&client_secret=s&client_id=" + b"c" * 5000, None),
    ]
    with capture_logs() as logs:
        for body, header in bodies_and_headers:
            assert_oauth_error(token_request(stack, body, header), 401, "invalid_client")
    no_server_errors(logs)


@pytest.mark.parametrize("body", [
    b"grant_type=client_credentials&grant_type=password",
    b"grant_type=client_credentials&grant_type=client_credentials",
    b"grant_type=client_credentials&scope=gateway&scope=admin",
])
def test_repeated_parameters_are_invalid_request(stack: Stack, body: bytes) -> None:
    """RFC 6749 §3.2: parameters MUST NOT be included more than once. authlib used the first silently."""
    body_ = assert_oauth_error(token_request(stack, body, basic(stack)), 400, "invalid_request")
    assert "repeated" in body_["error_description"]


def test_a_repeated_client_id_in_the_form_is_invalid_request(stack: Stack) -> None:
    cid, secret = stack.client.client_id, stack.client.client_secret
    for ids in ((cid, "c_other"), ("c_other", cid)):
        body = GRANT + f"&client_id={ids[0]}&client_id={ids[1]}&client_secret={secret}".encode()
        assert_oauth_error(token_request(stack, body), 400, "invalid_request")


def test_one_client_authentication_per_request(stack: Stack) -> None:
    """RFC 6749 §2.3: one method per request. authlib tried Basic, then the form: with both, a wrong
    Basic secret fell through to the form's credentials, and the throttle counted the Basic id."""
    cid, secret = stack.client.client_id, stack.client.client_secret
    other = create_client(stack.engine, CLIENT, ["gateway"])
    both = token_request(stack, GRANT + f"&client_id={cid}&client_secret={secret}".encode(),
                         basic(stack, "wrong-secret"))
    assert_oauth_error(both, 400, "invalid_request")
    mismatched = token_request(stack, GRANT + f"&client_id={other.client_id}".encode(), basic(stack))
    assert_oauth_error(mismatched, 400, "invalid_request")
    same = token_request(stack, GRANT + f"&client_id={cid}".encode(), basic(stack))
    assert same.status == 200, same.body  # naming the Basic client again in the form is fine
    assert token_request(stack, GRANT + f"&client_id={cid}&client_secret={secret}".encode()).status == 200


def test_basic_credentials_are_read_strictly(stack: Stack) -> None:
    """authlib decoded base64 leniently (characters outside the alphabet skipped), the throttle strictly:
    such a header authenticated the client while the per-client failure counter never saw its id."""
    encoded = b64(f"{stack.client.client_id}:{stack.client.client_secret}".encode())
    for header in (f"Basic {encoded[:8]}!{encoded[8:]}", f"Basic {encoded[:8]} {encoded[8:]}"):
        assert_oauth_error(token_request(stack, GRANT, header), 401, "invalid_client")
    assert token_request(stack, GRANT, f"Basic  {encoded}").status == 200  # RFC 7235: 1*SP
    assert token_request(stack, GRANT, f"basic {encoded}").status == 200  # the scheme is case-insensitive


def test_an_unknown_client_and_a_wrong_secret_get_the_same_answer(stack: Stack) -> None:
    """authlib answered an unknown id with 400 "does not exist" (form) and a wrong secret with 401
    "cannot authenticate": the answer told which client ids exist."""
    cid = stack.client.client_id
    answers = [
        token_request(stack, GRANT + b"&client_id=c_000000000000000000000000&client_secret=x"),
        token_request(stack, GRANT + f"&client_id={cid}&client_secret=x".encode()),
        token_request(stack, GRANT, "Basic " + b64(b"c_000000000000000000000000:x")),
        token_request(stack, GRANT, basic(stack, "x")),
    ]
    bodies = {json.dumps(assert_oauth_error(a, 401, "invalid_client"), sort_keys=True) for a in answers}
    assert len(bodies) == 1, bodies
    assert all(a.headers["www-authenticate"].startswith("Basic") for a in answers)


def test_the_form_media_type_is_case_insensitive(stack: Stack) -> None:
    """RFC 9110 §8.3.1: media types are case-insensitive; upper case was refused as not a form."""
    response = token_request(stack, GRANT, basic(stack), content_type="Application/X-WWW-Form-URLEncoded")
    assert response.status == 200, response.body
    assert_oauth_error(token_request(stack, b'{"grant_type": "client_credentials"}', basic(stack),
                                     content_type="application/json"), 400, "invalid_request")


# --- bearer tokens --------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(stack: Stack, claims_json: str | None = None, **claims: object) -> str:
    """A token signed with the gateway's own key (as a leaked key or a buggy issuer would make)."""
    runtime = stack.app.runtime
    key = runtime.keyring.signing_key()
    now = int(time.time())
    body = {"iss": runtime.tokens.issuer, "aud": AUDIENCE, "sub": CLIENT, "client_id": stack.client.client_id,
            "system": CLIENT, "scope": "gateway", "iat": now, "exp": now + 300, "jti": secrets.token_hex(8),
            **claims}
    head = _b64url(json.dumps({"alg": "ES256", "typ": "JWT", "kid": key.kid}).encode())
    payload = _b64url((claims_json or json.dumps(body)).encode())
    return f"{head}.{payload}.{_b64url(key.sign(f'{head}.{payload}'.encode()))}"


def both_surfaces(stack: Stack, authorization: str) -> list[RawResponse]:
    return [request(stack.url, "GET", target, headers={"Authorization": authorization})
            for target in (f"/services/{OPEN}/x", "/admin/agencies")]


@pytest.mark.parametrize("claims", [{"system": {"a": 1}}, {"system": [CLIENT]}, {"system": 7},
                                    {"client_id": {"a": 1}}, {"scope": ["gateway"]}])
def test_identity_claims_that_are_not_strings_are_invalid_token(stack: Stack, claims: dict[str, object]) -> None:
    """A `system` that was not a string reached the audit entry and failed it: a 500 on the gateway."""
    with capture_logs() as logs:
        for response in both_surfaces(stack, "Bearer " + signed(stack, **claims)):
            assert_problem(response.status, response.headers["content-type"], response.json(), 401,
                           "invalid-token")
    no_server_errors(logs)


def test_deeply_nested_claims_are_invalid_token(stack: Stack) -> None:
    """5,000 nested arrays in a signed payload (still under joserfc's size limit) raised RecursionError."""
    deep = json.dumps({"client_id": "x"})[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}"
    with capture_logs() as logs:
        for response in both_surfaces(stack, "Bearer " + signed(stack, claims_json=deep)):
            assert_problem(response.status, response.headers["content-type"], response.json(), 401,
                           "invalid-token")
    no_server_errors(logs)


def test_bearer_may_be_followed_by_several_spaces(stack: Stack) -> None:
    """RFC 6750 §2.1: ``"Bearer" 1*SP b64token``; two spaces were read as a token starting with a space."""
    token = stack.token()
    gateway, admin = both_surfaces(stack, "Bearer   " + token)
    assert gateway.status == 200, gateway.body
    assert admin.status == 403  # authenticated, only not an admin


def test_made_up_kids_do_not_cost_a_store_query_each(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before a signature is checked, an unknown `kid` reloaded the signing keys from the store: one
    query per request, on the event loop, for anyone. Now at most one per interval (made long here)."""
    monkeypatch.setattr(auth_keys, "UNKNOWN_KID_RELOAD_SECONDS", 3600.0, raising=False)
    reloads: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "signing_keys" in statement:
            reloads.append(statement)

    event.listen(stack.engine, "before_cursor_execute", count)
    try:
        for i in range(20):
            head = _b64url(json.dumps({"alg": "ES256", "kid": f"20260101-{i:08x}"}).encode())
            response = request(stack.url, "GET", f"/services/{OPEN}/x",
                               headers={"Authorization": f"Bearer {head}.{_b64url(b'{}')}.{_b64url(b'x' * 64)}"})
            assert response.status == 401
    finally:
        event.remove(stack.engine, "before_cursor_execute", count)
    assert len(reloads) <= 1, len(reloads)
    assert both_surfaces(stack, "Bearer " + stack.token())[0].status == 200  # the known key still works


def test_the_admin_api_refuses_a_nul_in_client_and_system_ids(stack: Stack) -> None:
    """`/admin/clients/c_%00/disable` (and rotate-secret, revoke-tokens) and a new client for system
    "a\\u0000b" were PostgreSQL DataErrors: 500s."""
    headers = stack.auth(stack.admin)
    with capture_logs() as logs:
        for action in ("disable", "rotate-secret", "revoke-tokens"):
            response = request(stack.url, "POST", f"/admin/clients/c_%00x/{action}", headers=headers)
            assert_problem(response.status, response.headers["content-type"], response.json(), 422,
                           "validation-failed")
        created = request(stack.url, "POST", "/admin/clients", headers={**headers, "Content-Type": "application/json"},
                          body=b'{"scopes": ["gateway"], "system": "a\\u0000b"}')
        assert_problem(created.status, created.headers["content-type"], created.json(), 422, "validation-failed")
    no_server_errors(logs)
