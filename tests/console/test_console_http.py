"""The console over real HTTP: sign-in (local and OIDC), sessions, CSRF, roles, pages, bad input, audit."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import update

from lgsp.audit.query import AuditFilter, find_entries
from lgsp.auth.models import OAuthClient
from lgsp.console import sessions
from lgsp.delivery.models import OutboxMessage
from lgsp.delivery.outbox import NewMessage, accept
from tests.console.conftest import CLIENT, ECHO, PASSWORD, ConsoleStack, csrf_of, login_csrf

XSS = '<script>alert("x")</script>'


def console_entries(stack: ConsoleStack, action: str) -> list[dict]:
    entries = find_entries(stack.app.runtime.engine, AuditFilter(limit=10_000))
    return [e for e in entries if e["extra"].get("console_action") == action]


def test_login_logout_and_session_cookie(stack: ConsoleStack) -> None:
    http = stack.browser()
    assert http.get("/console/log").status_code == 303  # no session: to the login page
    page = http.get("/console/login")
    assert page.status_code == 200 and "content-security-policy" in page.headers
    assert "script-src 'self'" in page.headers["content-security-policy"]
    response = http.post("/console/login", data={"username": "operator", "password": PASSWORD,
                                                 "csrf": csrf_of(page.text)})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    home = http.get("/console/")
    assert home.status_code == 200 and 'data-role="operator"' in home.text
    token = http.cookies[sessions.COOKIE]
    assert http.post("/console/logout", data={"csrf": csrf_of(home.text)}).status_code == 303
    assert console_entries(stack, "logout")[-1]["user_id"] == "operator"
    stale = stack.browser()
    stale.cookies.set(sessions.COOKIE, token)
    assert stale.get("/console/").status_code == 303  # the session row is gone


def test_wrong_passwords_lock_the_account(stack: ConsoleStack) -> None:
    from lgsp.console.accounts import create_user

    create_user(stack.app.runtime.engine, "lockme", "observer", PASSWORD)
    http = stack.browser()
    for _ in range(5):
        wrong = http.post("/console/login", data={"username": "lockme", "password": "nope-nope-nope",
                                                  "csrf": login_csrf(http)})
        assert wrong.status_code == 401
    right = http.post("/console/login", data={"username": "lockme", "password": PASSWORD, "csrf": login_csrf(http)})
    assert right.status_code == 401 and "15" in right.text  # locked, even with the right password
    unknown = http.post("/console/login", data={"username": "nobody", "password": "x", "csrf": login_csrf(http)})
    assert unknown.status_code == 401
    refused = [e for e in console_entries(stack, "login") if e["status"] == 401]
    assert {e["user_id"] for e in refused} >= {"lockme", "nobody"}


def test_posts_without_the_csrf_token_or_from_another_origin_are_refused(stack: ConsoleStack) -> None:
    http = stack.login("operator")
    form = csrf_of(http.get("/console/registry").text)
    assert http.post("/console/registry/preview", data={"yaml": "agencies: []"}).status_code == 403
    assert http.post("/console/registry/preview", data={"yaml": "x", "csrf": "forged"}).status_code == 403
    other = http.post("/console/registry/preview", data={"yaml": "agencies: []", "csrf": form},
                      headers={"Origin": "https://evil.example"})
    assert other.status_code == 403
    fresh = stack.browser()  # a login form posted without its pre-session cookie
    assert fresh.post("/console/login", data={"username": "operator", "password": PASSWORD,
                                              "csrf": "x"}).status_code == 403


def test_observer_sees_no_buttons_and_cannot_post(stack: ConsoleStack) -> None:
    http = stack.login("observer")
    registry = http.get("/console/registry")
    assert registry.status_code == 200 and 'id="preview"' not in registry.text
    clients = http.get("/console/clients").text
    assert 'id="create-client"' not in clients and 'id="rotate-keys"' not in clients
    csrf = csrf_of(http.get("/console/").text)
    for path, data in (("/console/registry/apply", {"yaml": "agencies: []"}), ("/console/clients", {}),
                       ("/console/keys/rotate", {}), ("/console/deliveries/purge", {"confirm": "yes"})):
        refused = http.post(path, data={**data, "csrf": csrf})
        assert refused.status_code == 403, path
    assert any(e["user_id"] == "observer" and e["status"] == 403 for e in console_entries(stack, "registry.apply"))


def test_registry_change_shows_the_diff_then_applies_and_is_audited(stack: ConsoleStack) -> None:
    http = stack.login("operator")
    page = http.get("/console/registry")
    csrf = csrf_of(page.text)
    text = http.get("/console/registry/export.yaml").text
    new_service = f"000.00.31.H10/PROV/new-{uuid.uuid4().hex[:6]}"
    edited = text.replace("grants:\n", f"- id: {new_service}\n  name: New\n  base_url: {stack.provider.url}\n"
                          f"grants:\n- client: {CLIENT}\n  service: {new_service}\n  methods: ['GET']\n  path: '*'\n")
    preview = http.post("/console/registry/preview", data={"yaml": edited, "csrf": csrf})
    assert preview.status_code == 200, preview.text
    assert f"+ service {new_service}" in preview.text and 'id="apply"' in preview.text
    assert new_service not in http.get("/console/registry/export.yaml").text  # preview changed nothing
    applied = http.post("/console/registry/apply", data={"yaml": edited, "csrf": csrf})
    assert applied.status_code == 200 and 'id="applied"' in applied.text
    assert new_service in http.get("/console/registry/export.yaml").text
    entry = console_entries(stack, "registry.apply")[-1]
    assert entry["user_id"] == "operator" and entry["client"] == "console:operator" and entry["status"] == 200
    broken = http.post("/console/registry/preview", data={"yaml": "agencies: [\n" + XSS, "csrf": csrf})
    assert broken.status_code == 422 and 'id="registry-error"' in broken.text and XSS not in broken.text


def test_gateway_call_is_found_in_the_log_and_bad_filters_say_which_field(stack: ConsoleStack) -> None:
    message_id = str(uuid.uuid4())
    call = httpx.get(f"{stack.url}/services/{ECHO}/x", headers={"Authorization": f"Bearer {stack.gateway_token()}",
                                                                "X-LGSP-Message-Id": message_id})
    assert call.status_code == 200
    http = stack.login("auditor")
    found = http.get("/console/log", params={"id": message_id})
    assert found.status_code == 200 and f'data-message-id="{message_id}"' in found.text
    by_agency = http.get("/console/log", params={"agency": "000.00.31.H10", "status": "200"})
    assert f'data-message-id="{message_id}"' in by_agency.text
    bad = http.get("/console/log", params={"status": "abc", "since": "yesterday", "client": XSS})
    assert bad.status_code == 422 and 'id="err-status"' in bad.text and 'id="err-since"' in bad.text
    assert XSS not in bad.text and "&lt;script&gt;" in bad.text
    index = int(call.headers["x-lgsp-audit-index"])
    entry = http.get(f"/console/log/{index}")
    assert entry.status_code == 200 and message_id in entry.text


def test_log_pages_by_index(stack: ConsoleStack) -> None:
    token = stack.gateway_token()
    for n in range(55):
        httpx.get(f"{stack.url}/services/{ECHO}/page/{n}", headers={"Authorization": f"Bearer {token}"})
    http = stack.login("observer")
    first = http.get("/console/log", params={"service": ECHO})
    assert 'id="older"' in first.text
    older = first.text.split('id="older" href="')[1].split('"')[0].replace("&amp;", "&")
    before = int(parse_qs(urlsplit(older).query)["before"][0])
    second = http.get("/console/log" + older)
    assert second.status_code == 200
    indexes = [int(x.split('"')[0]) for x in second.text.split('href="/console/log/')[1:] if x[0].isdigit()]
    assert indexes and max(indexes) < before


def test_unknown_ids_are_404_pages(stack: ConsoleStack) -> None:
    http = stack.login("auditor")
    for path in ("/console/log/99999999", "/console/log/abc", "/console/documents/nope", "/console/no-such-page",
                 "/console/deliveries?state=bogus", "/console/log/99999999/receipt.json",
                 # past a 64-bit column: the store cannot even look these up (a 500 before)
                 f"/console/log/{2**63}", f"/console/log/{-(2**63) - 1}", f"/console/log/{10**30}/receipt.json"):
        page = http.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html") and 'id="error-status"' in page.text


def test_client_secret_is_shown_once_and_text_is_escaped(stack: ConsoleStack) -> None:
    http = stack.login("operator")
    csrf = csrf_of(http.get("/console/clients").text)
    created = http.post("/console/clients", data={"system": CLIENT, "scopes": "gateway",
                                                  "description": "Một cửa & co", "csrf": csrf})
    assert created.status_code == 200 and 'id="issued-secret"' in created.text
    secret = created.text.split('id="issued-secret">')[1].split("<")[0]
    assert len(secret) >= 20 and secret not in http.get("/console/clients").text
    bad = http.post("/console/clients", data={"system": XSS, "scopes": "gateway", "csrf": csrf})
    assert bad.status_code == 422 and XSS not in bad.text
    # markup in a description is refused at write time (issue 19.6) ...
    marked = http.post("/console/clients", data={"system": CLIENT, "scopes": "gateway", "description": XSS,
                                                 "csrf": csrf})
    assert marked.status_code == 422 and XSS not in marked.text
    # ... and one written straight into the database is still escaped on the page
    client_id = created.text.split('id="issued-id">')[1].split("<")[0]
    with stack.app.runtime.engine.begin() as conn:
        conn.execute(update(OAuthClient).where(OAuthClient.client_id == client_id).values(description=XSS))
    assert XSS not in http.get("/console/clients").text
    assert console_entries(stack, "clients.create")[-1]["user_id"] == "operator"


def test_dead_letter_replay_needs_confirmation_and_is_audited(stack: ConsoleStack) -> None:
    engine = stack.app.runtime.engine
    queued = accept(engine, NewMessage(kind="http", payload=b"{}", content_type="application/json",
                                       destination="http://127.0.0.1:9/x", client_id="test"))
    with engine.begin() as conn:
        conn.execute(update(OutboxMessage).where(OutboxMessage.message_id == queued.message_id)
                     .values(state="dead", last_error="connection refused"))
    http = stack.login("operator")
    page = http.get("/console/deliveries", params={"state": "dead"})
    assert f'data-message-id="{queued.message_id}"' in page.text and "connection refused" in page.text
    csrf = csrf_of(page.text)
    unconfirmed = http.post("/console/deliveries/replay", data={"message_id": queued.message_id, "csrf": csrf})
    assert unconfirmed.status_code == 422
    done = http.post("/console/deliveries/replay", data={"message_id": queued.message_id, "csrf": csrf,
                                                         "confirm": "yes"})
    assert done.status_code == 200 and 'id="done"' in done.text
    with engine.connect() as conn:
        state = conn.execute(OutboxMessage.__table__.select().where(
            OutboxMessage.message_id == queued.message_id)).first()
    assert state is not None and state.state == "pending"
    assert console_entries(stack, "deliveries.replay")[-1]["extra"]["target"] == queued.message_id


def test_single_sign_on_with_pkce(stack: ConsoleStack) -> None:
    http = stack.browser()
    start = http.get("/console/oidc/start")
    assert start.status_code == 303
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    with httpx.Client(follow_redirects=False) as idp:
        back = idp.post(authorize, data={"user": "lan.nguyen"})
    callback = back.headers["location"]
    signed_in = http.get(callback)  # a page that moves on to home (a 303 would lose the Strict cookie)
    assert signed_in.status_code == 200 and 'id="signed-in"' in signed_in.text, signed_in.text
    home = http.get("/console/")
    assert 'data-role="auditor"' in home.text and "Nguyễn Thị Lan" in home.text
    again = stack.browser().get(callback)  # the same code and state a second time
    assert again.status_code == 401
    entry = [e for e in console_entries(stack, "login") if e["user_id"] == "lan.nguyen"][-1]
    assert entry["status"] == 200 and "oidc" in entry["extra"]["target"]


def test_single_sign_on_refuses_people_without_a_console_role(stack: ConsoleStack) -> None:
    http = stack.browser()
    authorize = http.get("/console/oidc/start").headers["location"]
    with httpx.Client(follow_redirects=False) as idp:
        callback = idp.post(authorize, data={"user": "no.role"}).headers["location"]
    refused = http.get(callback)
    assert refused.status_code == 401 and "no console role" in refused.text
    forged = stack.browser().get("/console/oidc/callback", params={"state": "made-up", "code": "x"})
    assert forged.status_code == 401


def test_idle_sessions_expire(stack: ConsoleStack) -> None:
    http = stack.login("observer")
    token = http.cookies[sessions.COOKIE]
    engine, idle = stack.app.runtime.engine, stack.app.runtime.settings.console_idle_seconds
    assert sessions.find(engine, token, idle) is not None
    later = datetime.now(UTC) + timedelta(seconds=idle + 5)
    assert sessions.find(engine, token, idle, now=later) is None
    assert http.get("/console/").status_code == 303  # and the row is gone for good


def test_home_shows_the_signed_head(stack: ConsoleStack) -> None:
    httpx.get(f"{stack.url}/services/{ECHO}/h", headers={"Authorization": f"Bearer {stack.gateway_token()}"})
    http = stack.login("auditor")
    deadline = time.monotonic() + 10
    while True:
        home = http.get("/console/")
        if 'id="head-verdict" class="ok"' in home.text or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert 'id="head-verdict" class="ok"' in home.text and ECHO in home.text


@pytest.mark.parametrize("page", ["/console/", "/console/log", "/console/registry", "/console/documents",
                                  "/console/deliveries", "/console/opendata", "/console/clients"])
def test_pages_on_postgresql(pg_stack: ConsoleStack, page: str) -> None:
    http = pg_stack.login("auditor")
    assert http.get(page).status_code == 200


def test_no_text_field_is_rendered_unescaped(stack: ConsoleStack) -> None:
    """The payload goes into every field a person can type in; no page may echo it as markup."""
    payload = '"><script>alert(1)</script></textarea><img src=x onerror=alert(2)>'
    http = stack.browser()
    login = http.post("/console/login", data={"username": payload, "password": payload, "csrf": login_csrf(http)})
    pages = [login]
    http = stack.login("operator")
    csrf = csrf_of(http.get("/console/").text)
    pages.append(http.get("/console/log", params={k: payload for k in ("since", "until", "client", "service",
                                                                        "status", "id", "agency", "before")}))
    pages.append(http.post("/console/clients", data={"system": payload, "scopes": payload, "description": payload,
                                                     "csrf": csrf}))
    pages.append(http.post("/console/registry/preview", data={"yaml": payload, "csrf": csrf}))
    pages.append(http.post("/console/deliveries/purge", data={"days": payload, "confirm": "yes", "csrf": csrf}))
    pages.append(http.post("/console/deliveries/replay", data={"message_id": payload, "confirm": "yes",
                                                               "csrf": csrf}))
    pages.append(http.get(f"/console/documents/{payload}"))
    for page in pages:
        assert page.status_code < 500, page.text[:300]
        assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text, page.url


def test_registry_page_links_a_soap_services_openapi(stack: ConsoleStack) -> None:
    http = stack.login("operator")
    csrf = csrf_of(http.get("/console/registry").text)
    text = http.get("/console/registry/export.yaml").text
    soap = "000.00.31.H10/PROV/csdl-soap"
    edited = text.replace("grants:\n", f"- id: {soap}\n  name: CSDL\n  kind: soap\n  base_url: {stack.provider.url}\n"
                          "  wsdl_path: wsdl/ngsp/ngsp.wsdl\ngrants:\n")
    applied = http.post("/console/registry/apply", data={"yaml": edited, "csrf": csrf})
    assert applied.status_code == 200, applied.text[-2000:]
    assert f'href="/services/{soap}/openapi.json"' in http.get("/console/registry").text


def test_nul_in_any_input_is_a_422_page_on_postgresql(pg_stack: ConsoleStack) -> None:
    """PostgreSQL refuses U+0000 in text: a login name, a search filter, a document id or a client system
    holding one reached the store and the console answered 500."""
    nul = "a\x00b"
    http = pg_stack.browser()
    login = http.post("/console/login", data={"username": nul, "password": "x", "csrf": login_csrf(http)})
    assert login.status_code == 422 and "U+0000" in login.text
    http = pg_stack.login("operator")
    csrf = csrf_of(http.get("/console/").text)
    answers = [http.get("/console/log", params={name: nul}) for name in ("client", "service", "id", "agency")]
    answers.append(http.get("/console/documents/a%00b"))
    answers.append(http.post("/console/clients", data={"system": nul, "scopes": "gateway", "csrf": csrf}))
    answers.append(http.post("/console/clients/a%00b/disable", data={"csrf": csrf}))
    for answer in answers:
        assert answer.status_code == 422 and "U+0000" in answer.text, (answer.url, answer.status_code)
        assert answer.headers["x-frame-options"] == "DENY"
    assert http.get("/console/log", params={"client": "a\x01b"}).status_code == 200  # other text: no match


def test_numbers_past_what_the_store_or_the_calendar_holds_are_422_pages(stack: ConsoleStack) -> None:
    """`before` beyond int64 could not be bound (OverflowError); a purge of 99,999,999 days put the cut-off
    before year 1 (OverflowError): both were 500 pages."""
    http = stack.login("operator")
    csrf = csrf_of(http.get("/console/").text)
    before = http.get("/console/log", params={"before": "9" * 30})
    assert before.status_code == 422 and 'id="err-before"' in before.text
    for days in ("99999999", "9" * 30, "0"):
        purge = http.post("/console/deliveries/purge", data={"days": days, "confirm": "yes", "csrf": csrf})
        assert purge.status_code == 422 and "1 to 36500" in purge.text, days
    assert http.post("/console/deliveries/purge", data={"days": "36500", "confirm": "yes",
                                                        "csrf": csrf}).status_code == 200
