"""Gateway routing against real provider servers: forwarding, denial, limits, failures, audit."""

from __future__ import annotations

import hashlib
import time
import uuid

import httpx

from tests.core.conftest import CLIENT, DEPT, ECHO, Stack

PROBLEM = "application/problem+json"


def svc(path: str, service: str = ECHO) -> str:
    return f"/services/{service}/{path}"


def assert_problem(response: httpx.Response, status: int, kind: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == f"https://lgsp.dev/problems/{kind}"
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_allowed_call_is_forwarded_with_identity_headers(stack: Stack) -> None:
    message_id = str(uuid.uuid4())
    response = stack.http.get(svc("records/42?q=1&x=%C4%91"), headers=stack.auth(**{
        "X-LGSP-User-Id": "can-bo-01", "X-LGSP-Message-Id": message_id, "X-Correlation-Id": "corr-7",
        "X-LGSP-Client": "forged/SYSTEM", "Connection": "X-Drop-Me", "X-Drop-Me": "secret", "X-Keep": "yes"}))
    assert response.status_code == 200
    echoed = response.json()
    assert echoed["path"] == "/records/42" and echoed["query"] == "q=1&x=%C4%91"
    headers = echoed["headers"]
    assert headers["x-lgsp-client"] == CLIENT  # set by lgsp, the forged value is dropped
    assert [v for k, v in echoed["header_list"] if k == "x-lgsp-client"] == [CLIENT]
    assert headers["x-lgsp-user-id"] == "can-bo-01"
    assert headers["x-lgsp-message-id"] == message_id
    assert headers["x-correlation-id"] == "corr-7"
    assert headers["x-keep"] == "yes"
    assert "authorization" not in headers  # the caller's lgsp token never reaches the provider
    assert "x-drop-me" not in headers  # hop-by-hop by the Connection header
    assert response.headers["x-lgsp-message-id"] == message_id
    index = int(response.headers["x-lgsp-audit-index"])
    entry = stack.audit_by_message(message_id)
    assert entry["index"] == index and entry["status"] == 200 and entry["client"] == CLIENT
    assert entry["service"] == ECHO and entry["user_id"] == "can-bo-01" and entry["correlation_id"] == "corr-7"
    assert entry["request_sha256"] == hashlib.sha256(b"").hexdigest()
    assert entry["response_sha256"] == hashlib.sha256(response.content).hexdigest()


def test_gateway_adds_no_client_library_headers(stack: Stack) -> None:
    """The provider gets the caller's Accept / Accept-Encoding / User-Agent or none: aiohttp invents none."""
    request = stack.http.build_request("GET", svc("x"), headers=stack.auth())
    for name in ("accept", "accept-encoding", "user-agent"):
        del request.headers[name]
    headers = stack.http.send(request).json()["headers"]
    assert not {"accept", "accept-encoding", "user-agent"} & set(headers), headers
    kept = stack.http.get(svc("x"), headers=stack.auth(**{"Accept": "application/xml", "User-Agent": "mot-cua/2",
                                                          "Accept-Encoding": "identity"})).json()["headers"]
    assert (kept["accept"], kept["user-agent"], kept["accept-encoding"]) == ("application/xml", "mot-cua/2", "identity")


def test_every_automatic_aiohttp_header_is_left_out() -> None:
    """`ForwardedRequest` adds none of aiohttp's automatic headers; a new one in aiohttp must be listed."""
    import aiohttp

    from lgsp.gateway.upstream import NO_AUTO_HEADERS

    automatic = {name.lower() for name in aiohttp.ClientRequest.DEFAULT_HEADERS} | {"user-agent"}
    assert automatic <= {name.lower() for name in NO_AUTO_HEADERS}


def test_hop_by_hop_response_headers_are_stripped(stack: Stack) -> None:
    response = stack.http.get(svc("x", f"{DEPT}/PROV/raw"), headers=stack.auth())
    assert response.status_code == 200 and response.text == "ok"
    assert response.headers["x-provider"] == "raw"
    for name in ("x-secret-hop", "keep-alive", "proxy-authenticate"):
        assert name not in response.headers
    # A provider's cookies would be set for the gateway's origin, which the console shares: never passed on.
    assert "set-cookie" not in response.headers


def test_the_callers_cookies_never_reach_a_provider(stack: Stack) -> None:
    """A browser sends the console's session cookie with any request to the gateway's origin: a provider
    must never see it (it could take over an operator's session)."""
    echoed = stack.http.get(svc("x"), headers=stack.auth(Cookie="lgsp_console=operator-session")).json()
    assert "cookie" not in echoed["headers"]


def test_message_id_generated_when_absent_or_invalid(stack: Stack) -> None:
    response = stack.http.get(svc("x"), headers=stack.auth(**{"X-LGSP-Message-Id": "not-a-uuid"}))
    generated = response.headers["x-lgsp-message-id"]
    assert generated != "not-a-uuid" and uuid.UUID(generated)
    assert response.json()["headers"]["x-correlation-id"] == generated


def test_post_body_forwarded_and_hashed(stack: Stack) -> None:
    body = "{\"ho_ten\": \"Nguyễn Văn A\"}".encode()
    response = stack.http.post(svc("submit"), content=body, headers=stack.auth())
    assert response.status_code == 200
    assert response.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
    entry = stack.audit_by_message(response.headers["x-lgsp-message-id"])
    assert entry["request_sha256"] == hashlib.sha256(body).hexdigest()


def test_grant_method_and_path_restrictions(stack: Stack) -> None:
    assert stack.http.delete(svc("items/7"), headers=stack.auth()).status_code == 200
    body = assert_problem(stack.http.delete(svc("other/7"), headers=stack.auth()), 403, "forbidden")
    assert "DELETE" in body["detail"]
    assert_problem(stack.http.patch(svc("items/7"), headers=stack.auth()), 403, "forbidden")


def test_client_without_grant_is_denied_and_audited(stack: Stack) -> None:
    response = stack.http.get(svc("records/1"), headers=stack.auth(stack.other))
    assert_problem(response, 403, "forbidden")
    entry = stack.audit_by_message(response.headers["x-lgsp-message-id"])
    assert entry["status"] == 403 and entry["problem_type"].endswith("/forbidden")
    assert entry["client"] == f"{CLIENT.split('/')[0]}/OTHER"


def test_admin_or_auditor_token_cannot_call_services(stack: Stack) -> None:
    assert_problem(stack.http.get(svc("x"), headers=stack.auth(stack.admin)), 403, "forbidden")


def test_unknown_service_and_agency(stack: Stack) -> None:
    assert_problem(stack.http.get(f"/services/{DEPT}/PROV/nope/x", headers=stack.auth()), 404, "unknown-service")
    assert_problem(stack.http.get("/services/000.00.99.H10/PROV/echo/x", headers=stack.auth()), 404,
                   "unknown-agency")
    body = assert_problem(stack.http.get("/services/not-an-agency/PROV/echo/x", headers=stack.auth()), 404,
                          "unknown-agency")
    assert "NNN.NN.NN.XNN" in body["detail"]
    assert_problem(stack.http.get("/services/only-two/parts", headers=stack.auth()), 404, "unknown-service")


def test_missing_malformed_and_forged_tokens(stack: Stack) -> None:
    response = stack.http.get(svc("x"))
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")
    entry = stack.audit_by_message(response.headers["x-lgsp-message-id"])
    assert entry["status"] == 401 and entry["client"] is None
    assert_problem(stack.http.get(svc("x"), headers={"Authorization": "Basic abc"}), 401, "unauthenticated")
    assert_problem(stack.http.get(svc("x"), headers={"Authorization": "Bearer garbage"}), 401, "invalid-token")
    token = stack.token(stack.client)
    head, payload, signature = token.split(".")
    tampered = f"{head}.{payload[:-4]}AAAA.{signature}"
    response = stack.http.get(svc("x"), headers={"Authorization": f"Bearer {tampered}"})
    assert_problem(response, 401, "invalid-token")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_oversized_body_rejected_by_content_length(stack: Stack) -> None:
    response = stack.http.post(svc("x", f"{DEPT}/PROV/limited"), content=b"a" * 1001, headers=stack.auth())
    body = assert_problem(response, 413, "payload-too-large")
    assert body["limit"] == 1000
    assert stack.audit_by_message(response.headers["x-lgsp-message-id"])["status"] == 413
    ok = stack.http.post(svc("x", f"{DEPT}/PROV/limited"), content=b"a" * 1000, headers=stack.auth())
    assert ok.status_code == 200


def test_oversized_chunked_body_rejected(stack: Stack) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"b" * 100

    response = stack.http.post(svc("x", f"{DEPT}/PROV/limited"), content=chunks(), headers=stack.auth())
    assert_problem(response, 413, "payload-too-large")


def test_large_bodies_stream_both_ways(stack: Stack) -> None:
    payload = bytes(range(256)) * (5 * 4096)  # 5 MiB
    response = stack.http.post(svc("upload"), content=payload, headers=stack.auth())
    assert response.status_code == 200, response.text
    assert response.json() == {"received": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    entry = stack.audit_by_message(response.headers["x-lgsp-message-id"])
    assert entry["request_sha256"] == hashlib.sha256(payload).hexdigest()

    size = 3 * 1024 * 1024 + 17
    with stack.http.stream("GET", svc(f"big?bytes={size}"), headers=stack.auth()) as streamed:
        assert streamed.status_code == 200
        message_id = streamed.headers["x-lgsp-message-id"]
        data = b"".join(streamed.iter_bytes())
    assert len(data) == size
    entry = stack.audit_by_message(message_id)
    assert entry["response_sha256"] == hashlib.sha256(data).hexdigest()


def test_provider_down_is_502_after_retries(stack: Stack) -> None:
    response = stack.http.get(svc("x", f"{DEPT}/PROV/down"), headers=stack.auth())
    body = assert_problem(response, 502, "upstream-unavailable")
    assert body["attempts"] == 2  # 1 + retry_attempts for an idempotent GET
    entry = stack.audit_by_message(response.headers["x-lgsp-message-id"])
    assert entry["status"] == 502 and entry["extra"]["attempts"] == 2


def test_slow_provider_is_504(stack: Stack) -> None:
    started = time.monotonic()
    response = stack.http.get(svc("slow?s=3", f"{DEPT}/PROV/slow"), headers=stack.auth())
    assert_problem(response, 504, "upstream-timeout")
    assert time.monotonic() - started < 2.5


def test_garbage_from_provider_is_502(stack: Stack) -> None:
    response = stack.http.get(svc("x", f"{DEPT}/PROV/garbage"), headers=stack.auth())
    assert response.status_code == 502
    assert response.json()["type"].rsplit("/", 1)[1] in {"upstream-bad-response", "upstream-unavailable"}


def test_idempotent_method_retried_non_idempotent_not(stack: Stack) -> None:
    key = f"{stack.backend}-{uuid.uuid4().hex[:8]}"
    response = stack.http.get(svc(f"flaky/{key}-get?n=2"), headers=stack.auth())
    assert response.status_code == 200 and response.json()["attempt"] == 3
    entry = stack.audit_by_message(response.headers["x-lgsp-message-id"])
    assert entry["extra"]["attempts"] == 3
    # POST is not declared idempotent: the provider's 503 is passed through after one attempt
    response = stack.http.post(svc(f"flaky/{key}-post?n=1"), headers=stack.auth())
    assert response.status_code == 503 and response.text == "busy"


def test_circuit_breaker_opens_then_half_opens(stack: Stack) -> None:
    path = svc("x", f"{DEPT}/PROV/breaker")
    auth = stack.auth()
    for _ in range(3):
        assert_problem(stack.http.get(path, headers=auth), 502, "upstream-unavailable")
    opened = stack.http.get(path, headers=auth)
    assert_problem(opened, 503, "circuit-open")
    assert int(opened.headers["retry-after"]) >= 1
    time.sleep(1.1)  # cooldown: one trial call goes through (and fails again)
    assert_problem(stack.http.get(path, headers=auth), 502, "upstream-unavailable")
    assert_problem(stack.http.get(path, headers=auth), 503, "circuit-open")


def test_provider_error_status_passes_through(stack: Stack) -> None:
    response = stack.http.post(svc("status/404"), headers=stack.auth())
    assert response.status_code == 404 and response.text == "provider says 404"
    assert stack.audit_by_message(response.headers["x-lgsp-message-id"])["status"] == 404
