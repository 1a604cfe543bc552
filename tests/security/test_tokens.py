"""Token controls (issue 19.7): maximum lifetime, invalid_scope, client-level not-before, failure throttle."""

from __future__ import annotations

import secrets
import time

import httpx

from lgsp.app import create_app
from lgsp.auth.clients import create_client
from lgsp.auth.tokens import AUDIENCE
from lgsp.testing.servers import start_server
from tests.security.conftest import CLIENT, OPEN, Stack, assert_problem, settings_for


def forge(stack: Stack, **claims: object) -> str:
    """A token signed with the gateway's own current key (as a leaked key or a buggy issuer would make)."""
    runtime = stack.app.runtime
    now = int(time.time())
    body = {"iss": runtime.tokens.issuer, "aud": AUDIENCE, "sub": CLIENT, "client_id": stack.client.client_id,
            "system": CLIENT, "scope": "gateway", "iat": now, "exp": now + 300, "jti": secrets.token_hex(8)}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return runtime.keyring.sign_jwt({"alg": "ES256", "typ": "JWT"}, body)  # the key stays in its store


def call(stack: Stack, token: str) -> httpx.Response:
    return stack.http.get(f"/services/{OPEN}/x", headers={"Authorization": f"Bearer {token}"})


def test_a_well_formed_token_passes(stack: Stack) -> None:
    assert call(stack, forge(stack)).status_code == 200


def test_a_token_living_ten_years_is_refused(stack: Stack) -> None:
    now = int(time.time())
    for claims in ({"exp": now + 10 * 365 * 86400}, {"iat": now - 3000, "exp": now + 3000},
                   {"iat": None}):
        response = call(stack, forge(stack, **claims))
        assert_problem(response.status_code, response.headers["content-type"], response.json(), 401, "invalid-token")
        assert "invalid_token" in response.headers["www-authenticate"]
    admin = stack.http.get("/admin/agencies", headers={"Authorization": "Bearer " + forge(
        stack, client_id=stack.admin.client_id, sub=stack.admin.client_id, system=None, scope="admin",
        exp=now + 10 * 365 * 86400)})
    assert admin.status_code == 401


def test_asking_for_a_scope_the_client_lacks_is_invalid_scope(stack: Stack) -> None:
    for scope in ("admin", "gateway admin", "auditor"):
        response = stack.http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": scope},
                                   auth=(stack.client.client_id, stack.client.client_secret))
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_scope"
    granted = stack.http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "gateway"},
                              auth=(stack.client.client_id, stack.client.client_secret))
    assert granted.status_code == 200 and granted.json()["scope"] == "gateway"


def test_secret_rotation_revokes_the_tokens_issued_before(stack: Stack) -> None:
    cred = create_client(stack.engine, CLIENT, ["gateway"])
    stack.app.runtime.registry_changed()
    old = stack.token(cred)
    assert call(stack, old).status_code == 200
    rotated = stack.http.post(f"/admin/clients/{cred.client_id}/rotate-secret", headers=stack.auth(stack.admin))
    assert rotated.status_code == 200
    response = call(stack, old)
    body = assert_problem(response.status_code, response.headers["content-type"], response.json(), 401,
                          "invalid-token")
    assert "revoked" in body["detail"]
    fresh = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                            auth=(cred.client_id, rotated.json()["client_secret"]))
    assert fresh.status_code == 200
    assert call(stack, fresh.json()["access_token"]).status_code == 200  # at once, not a second later


def test_revoke_tokens_keeps_the_secret(stack: Stack) -> None:
    cred = create_client(stack.engine, CLIENT, ["gateway"])
    stack.app.runtime.registry_changed()
    old = stack.token(cred)
    revoked = stack.http.post(f"/admin/clients/{cred.client_id}/revoke-tokens", headers=stack.auth(stack.admin))
    assert revoked.status_code == 200 and revoked.json()["tokens_not_before"] > time.time() - 5
    assert call(stack, old).status_code == 401
    assert call(stack, stack.token(cred)).status_code == 200
    unknown = stack.http.post("/admin/clients/c_nobody/revoke-tokens", headers=stack.auth(stack.admin))
    assert unknown.status_code == 422 and unknown.headers["content-type"] == "application/problem+json"


def test_token_endpoint_throttles_failures_per_client_and_per_address(stack: Stack) -> None:
    """A second gateway on the same store with a small limit (so the module's own stack is not locked)."""
    app = create_app(settings_for(str(stack.engine.url.render_as_string(hide_password=False)),
                                  token_failure_limit=3, token_failure_window_seconds=2.0))
    victim = create_client(stack.engine, CLIENT, ["gateway"])
    bystander = create_client(stack.engine, CLIENT, ["gateway"])
    server = start_server(app)
    form = {"grant_type": "client_credentials"}
    try:
        here = httpx.Client(base_url=server.url, timeout=10)
        there = httpx.Client(base_url=server.url, timeout=10,
                             transport=httpx.HTTPTransport(local_address="127.0.0.2"))
        for _ in range(3):
            assert here.post("/oauth/token", data=form, auth=(victim.client_id, "guess")).status_code == 401
        locked = here.post("/oauth/token", data=form, auth=(victim.client_id, victim.client_secret))
        assert locked.status_code == 429 and 1 <= int(locked.headers["retry-after"]) <= 2
        assert locked.json()["error"] == "temporarily_unavailable"
        # the client id is locked from every address, even with the right secret ...
        assert there.post("/oauth/token", data=form, auth=(victim.client_id, victim.client_secret)).status_code == 429
        # ... and the guessing address is locked for every client id
        assert here.post("/oauth/token", data=form,
                         auth=(bystander.client_id, bystander.client_secret)).status_code == 429
        assert there.post("/oauth/token", data=form,
                          auth=(bystander.client_id, bystander.client_secret)).status_code == 200
        time.sleep(2.1)
        assert here.post("/oauth/token", data=form, auth=(victim.client_id, victim.client_secret)).status_code == 200
        here.close()
        there.close()
    finally:
        server.stop()
        app.runtime.engine.dispose()


def test_an_oversized_chunked_token_request_is_413(stack: Stack) -> None:
    def body():  # type: ignore[no-untyped-def]
        yield b"grant_type=client_credentials&x="
        for _ in range(64):
            yield b"a" * 1024

    response = stack.http.post("/oauth/token", content=body(),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
