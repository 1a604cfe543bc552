"""OAuth2 client credentials, JWT verification, key rotation, client lifecycle."""

from __future__ import annotations

import base64
import time

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from lgsp.auth.clients import rotate_secret, set_disabled
from lgsp.auth.keys import KeyRing
from lgsp.auth.throttle import FailureThrottle
from lgsp.auth.tokens import AUDIENCE, TokenService
from tests.core.conftest import CLIENT, ECHO, Stack


def test_token_by_basic_and_by_form_post(stack: Stack) -> None:
    by_basic = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(stack.client.client_id, stack.client.client_secret))
    by_post = stack.http.post("/oauth/token", data={"grant_type": "client_credentials",
                                                    "client_id": stack.client.client_id,
                                                    "client_secret": stack.client.client_secret})
    for response in (by_basic, by_post):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 300 and body["scope"] == "gateway"
        assert response.headers["cache-control"] == "no-store"


def test_token_verifies_with_published_jwks(stack: Stack) -> None:
    token = stack.token(stack.client)
    keys = KeySet.import_key_set(stack.http.get("/.well-known/jwks.json").json())
    decoded = jwt.decode(token, keys, algorithms=["ES256"])
    assert decoded.header["alg"] == "ES256" and decoded.header["kid"]
    assert decoded.claims["sub"] == CLIENT and decoded.claims["aud"] == AUDIENCE
    assert decoded.claims["exp"] - decoded.claims["iat"] == 300
    meta = stack.http.get("/.well-known/oauth-authorization-server").json()
    assert meta["grant_types_supported"] == ["client_credentials"]


def test_bad_credentials_and_grant_types(stack: Stack) -> None:
    wrong = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                            auth=(stack.client.client_id, "wrong-secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    unknown = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=("nobody", "x"))
    assert unknown.status_code == 401
    password = stack.http.post("/oauth/token", data={"grant_type": "password", "username": "a", "password": "b"},
                               auth=(stack.client.client_id, stack.client.client_secret))
    assert password.status_code == 400 and password.json()["error"] == "unsupported_grant_type"
    scoped = stack.http.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "admin"},
                             auth=(stack.client.client_id, stack.client.client_secret))
    assert scoped.status_code == 400 and scoped.json()["error"] == "invalid_scope"  # RFC 6749 §5.2
    as_json = stack.http.post("/oauth/token", json={"grant_type": "client_credentials"},
                              auth=(stack.client.client_id, stack.client.client_secret))
    assert as_json.status_code == 400


def test_expired_token_is_rejected_with_www_authenticate(stack: Stack) -> None:
    runtime = stack.app.runtime
    short = TokenService(runtime.keyring, runtime.tokens.issuer, lifetime_seconds=1)
    token, _ = short.issue(stack.client.client_id, CLIENT, ["gateway"])
    assert stack.http.get(f"/services/{ECHO}/x", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    time.sleep(2.1)
    response = stack.http.get(f"/services/{ECHO}/x", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "the access token has expired"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_token_signed_by_foreign_key_or_alg_none_is_rejected(stack: Stack) -> None:
    runtime = stack.app.runtime
    kid = runtime.keyring.signing_key().kid
    foreign = ECKey.generate_key("P-256")
    claims = {"iss": runtime.tokens.issuer, "aud": AUDIENCE, "sub": CLIENT, "client_id": stack.client.client_id,
              "system": CLIENT, "scope": "gateway", "exp": int(time.time()) + 60}
    forged = jwt.encode({"alg": "ES256", "kid": kid}, claims, foreign)
    assert stack.http.get(f"/services/{ECHO}/x", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    import base64
    import json

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    none_token = f"{b64({'alg': 'none', 'kid': kid})}.{b64(claims)}."
    response = stack.http.get(f"/services/{ECHO}/x", headers={"Authorization": f"Bearer {none_token}"})
    assert response.status_code == 401 and "algorithm" in response.json()["detail"]


def test_key_rotation_keeps_old_tokens_valid(stack: Stack) -> None:
    old_token = stack.token(stack.client)
    old_kid = jwt.decode(old_token, stack.app.runtime.keyring.key_set()).header["kid"]
    admin = stack.auth(stack.admin)
    new_kid = stack.http.post("/admin/keys/rotate", headers=admin).json()["kid"]
    assert new_kid != old_kid
    published = {k["kid"] for k in stack.http.get("/.well-known/jwks.json").json()["keys"]}
    assert {old_kid, new_kid} <= published
    new_token = stack.token(stack.client)
    assert jwt.decode(new_token, stack.app.runtime.keyring.key_set()).header["kid"] == new_kid
    for token in (old_token, new_token):
        assert stack.http.get(f"/services/{ECHO}/x", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_retired_key_dropped_after_its_tokens_expire(stack: Stack) -> None:
    ring = KeyRing(stack.engine, token_lifetime_seconds=0)
    first = ring.rotate()
    second = ring.rotate()
    ring.reload()
    kids = {k["kid"] for k in ring.jwks()["keys"]}
    assert second in kids and first not in kids
    stack.app.runtime.keyring.reload()


def test_rotated_secret_and_disabled_client(stack: Stack) -> None:
    from lgsp.auth.clients import create_client

    cred = create_client(stack.engine, CLIENT, ["gateway"])
    token = stack.token(cred)
    new = rotate_secret(stack.engine, cred.client_id)
    old_secret = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=(cred.client_id, cred.client_secret))
    assert old_secret.status_code == 401
    assert stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(cred.client_id, new.client_secret)).status_code == 200
    set_disabled(stack.engine, cred.client_id, True)
    deadline = time.monotonic() + 3
    status = 200
    while time.monotonic() < deadline:  # another process's change is seen within the refresh interval
        status = stack.http.get(f"/services/{ECHO}/x", headers={"Authorization": f"Bearer {token}"}).status_code
        if status == 401:
            break
        time.sleep(0.1)
    assert status == 401
    refused = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(cred.client_id, new.client_secret))
    assert refused.status_code == 401


def test_token_endpoint_rejects_oversized_form(stack: Stack) -> None:
    response = httpx.post(stack.url + "/oauth/token", content=b"a" * 20000,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_malformed_basic_credentials_get_invalid_client_not_500(stack: Stack) -> None:
    """Basic credentials that are not base64, not UTF-8 once decoded, or have no colon: 401 invalid_client.

    ``/w==`` decodes to the byte 0xFF, which authlib's own parser turned into a 500.
    """
    latin1 = base64.b64encode("\u00e9:x".encode("latin-1")).decode()
    for header in ("Basic /w==", f"Basic {latin1}", "Basic %%%%", "Basic YWJj", "Basic"):
        response = stack.http.post("/oauth/token", content=b"grant_type=client_credentials",
                                   headers={"Authorization": header,
                                            "Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 401, (header, response.status_code, response.text)
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic")
    still = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                            auth=(stack.client.client_id, stack.client.client_secret))
    assert still.status_code == 200, still.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(raw=st.binary(min_size=1, max_size=48), scheme=st.sampled_from(["Basic", "basic", "BASIC"]))
def test_any_basic_credentials_get_an_oauth_answer(stack: Stack, raw: bytes, scheme: str) -> None:
    """Whatever bytes a client base64-encodes into Basic, the answer is an OAuth error, never a 500.

    The failure throttle is emptied first, so every example reaches the credentials parser, not a 429.
    """
    throttle = stack.app.runtime.token_failures
    stack.app.runtime.token_failures = FailureThrottle(throttle.limit, throttle.window)
    response = stack.http.post("/oauth/token", content=b"grant_type=client_credentials",
                               headers={"Authorization": f"{scheme} {base64.b64encode(raw).decode()}",
                                        "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code in (400, 401), (raw, response.status_code, response.text)
    assert "error" in response.json()
