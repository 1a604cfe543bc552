"""The console against a hostile operator's input and an outside attacker: what a city's penetration test tries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from hashlib import sha256

import httpx
from sqlalchemy import delete, insert, update

from lgsp.console import actions, auth_pages, pages, sessions
from lgsp.console.accounts import create_user, set_password
from lgsp.console.models import ConsoleSession
from lgsp.console.web import LOGIN_CSRF_COOKIE
from registry.declarative import apply, export, parse_registry_file
from registry.models import Agency
from tests.console.conftest import PASSWORD, ConsoleStack, csrf_of, login_csrf


def test_a_large_registry_file_does_not_stop_the_gateway_while_it_is_parsed(stack: ConsoleStack) -> None:
    """PyYAML (pure Python) needs seconds per MiB; the editor parsed on the event loop, so while one such
    file was read no gateway request was answered at all. The gateway must keep answering meanwhile."""
    http = stack.login("operator")
    csrf = csrf_of(http.get("/console/registry").text)
    text = "agencies: [" + ",".join(["1"] * 40_000) + "]\n"  # 80 KB, well within the limit: a second or two
    answer: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: answer.update(r=http.post("/console/registry/preview",
                                                                       data={"yaml": text, "csrf": csrf})))
    thread.start()
    answered_meanwhile = 0
    with httpx.Client(base_url=stack.url, timeout=60) as probe:
        while thread.is_alive() and answered_meanwhile < 3:
            time.sleep(0.2)
            assert probe.get("/healthz").status_code == 200
            if thread.is_alive():  # answered while the preview was still being worked on
                answered_meanwhile += 1
    thread.join(60)
    assert answer["r"].status_code == 422 and "agencies[0]" in answer["r"].text  # a list of numbers: refused
    assert answered_meanwhile == 3  # the old code answered none until the parse ended


def test_form_bodies_are_bounded_before_anyone_signs_in(stack: ConsoleStack) -> None:
    """The login form was parsed whatever its size: any number of 1 MiB fields held in memory, any number of
    unbounded files spooled to disk, all before the CSRF check refused it (403)."""
    http = stack.browser()
    csrf = login_csrf(http)
    big = {"username": "operator", "csrf": csrf, **{f"pad{n}": "x" * 500_000 for n in range(4)}}  # 2 MB
    declared = http.post("/console/login", data=big)
    assert declared.status_code == 413 and 'id="error-status"' in declared.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield f"csrf={csrf}&username=operator&password=".encode()
        for _ in range(64):
            yield b"x" * 8192
    streamed = http.post("/console/login", content=chunks(),
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert streamed.status_code == 413
    upload = http.post("/console/login", data={"csrf": csrf}, files={"f": ("a.bin", b"\0" * (4 * 1024 * 1024))})
    assert upload.status_code == 413
    assert http.post("/console/login", data={"username": "operator", "password": PASSWORD,
                                             "csrf": csrf}).status_code == 303  # a real one still signs in


def test_the_registry_editor_takes_what_it_says_and_refuses_more_by_name(stack: ConsoleStack) -> None:
    """The editor promises 2 MiB, but Starlette's form parser refused any field over 1 MiB (as sent,
    percent-encoded) with its own 400; past 2 MiB the page must say the editor's limit."""
    http = stack.login("operator")
    csrf = csrf_of(http.get("/console/registry").text)
    over = http.post("/console/registry/preview", data={"yaml": "#" * (2 * 1024 * 1024 + 1), "csrf": csrf})
    assert over.status_code == 422 and 'id="registry-error"' in over.text and "2048 KiB" in over.text
    vietnamese = "# " + "ệ" * 500_000 + "\nagencies: []\n"  # 1.5 MB of UTF-8, 4.5 MB percent-encoded
    taken = http.post("/console/registry/preview", data={"yaml": vietnamese, "csrf": csrf})
    assert taken.status_code in (200, 422) and 'id="registry-form"' in taken.text, taken.text[-500:]


def test_a_new_password_ends_the_sessions_and_no_session_lasts_for_ever(stack: ConsoleStack) -> None:
    """`lgsp users passwd` (after a leaked password) left every session signed in with the old one working;
    a session kept busy never ended at all (only idle ones did)."""
    engine = stack.app.runtime.engine
    create_user(engine, "leaked", "operator", PASSWORD)
    stolen = stack.login("leaked")
    assert stolen.get("/console/").status_code == 200
    set_password(engine, "leaked", "a-new-long-password")
    assert stolen.get("/console/").status_code == 303  # to the login page
    busy = stack.login("operator")
    token = busy.cookies[sessions.COOKIE]
    assert busy.get("/console/").status_code == 200
    long_ago = datetime.now(UTC) - timedelta(seconds=stack.app.runtime.settings.console_session_max_seconds + 60)
    with engine.begin() as conn:  # signed in long ago, seen a moment ago
        conn.execute(update(ConsoleSession).where(ConsoleSession.id_sha256 == sha256(token.encode()).hexdigest())
                     .values(created_at=long_ago, last_seen=datetime.now(UTC)))
    assert busy.get("/console/").status_code == 303


def test_a_single_sign_on_callback_only_signs_in_the_browser_that_started_it(stack: ConsoleStack) -> None:
    """Login CSRF (RFC 6749 10.12): the state was checked against the store only, so an attacker could sign
    in at the provider, keep the callback link and have an operator's browser open it: signed in as him."""
    attacker = stack.browser()
    authorize = attacker.get("/console/oidc/start").headers["location"]
    with httpx.Client(follow_redirects=False) as idp:
        callback = idp.post(authorize, data={"user": "lan.nguyen"}).headers["location"]
    victim = stack.browser()
    forced = victim.get(callback)
    assert forced.status_code == 401 and sessions.COOKIE not in victim.cookies
    signed_in = attacker.get(callback)  # the browser that started it still signs in
    assert signed_in.status_code == 200 and 'id="signed-in"' in signed_in.text
    assert attacker.get("/console/").status_code == 200


def test_the_providers_error_is_shown_only_as_an_error_code(stack: ConsoleStack) -> None:
    """`?error=` was echoed on the real sign-in page: anyone's message ("call this number") under the
    console's name. An RFC 6749 error code is still shown."""
    http = stack.browser()
    spoof = "Tài khoản đã bị khoá, hãy gọi 0900 000 000"
    page = http.get("/console/oidc/callback", params={"error": spoof})
    assert page.status_code == 401 and spoof not in page.text and "khoá, hãy gọi" not in page.text
    denied = http.get("/console/oidc/callback", params={"error": "access_denied"})
    assert denied.status_code == 401 and "access_denied" in denied.text


def test_a_deep_agency_hierarchy_does_not_break_the_registry_page(stack: ConsoleStack) -> None:
    """The tree was a recursive template macro: 300 agencies each under the last (nothing refuses that) raised
    RecursionError, and the registry page, the editor to repair it on, was a 500 for everyone."""
    engine = stack.app.runtime.engine
    codes = [f"000.{i // 100:02d}.{i % 100:02d}.H77" for i in range(300)]
    with engine.begin() as conn:  # straight in: `apply` checks each parent chain, seconds for this one
        conn.execute(insert(Agency), [{"code": c, "name": f"Cấp {i}", "parent_code": codes[i - 1] if i else None}
                                      for i, c in enumerate(codes)])
    try:
        page = stack.login("observer").get("/console/registry")
        assert page.status_code == 200, page.text[-300:]
        tree = page.text.split('id="agency-tree">')[1].split("</div>")[0]
        assert tree.count("<ul>") == tree.count("</ul>") >= 300 and f'"mono">{codes[-1]}</span> Cấp 299' in tree
    finally:
        with engine.begin() as conn:
            for code in reversed(codes):
                conn.execute(delete(Agency).where(Agency.code == code))


def test_one_password_tried_on_every_account_is_throttled_by_address(stack: ConsoleStack) -> None:
    """Five wrong passwords lock one account, but one guess on each of many accounts (or on names that do
    not exist) was never limited: each address now gets LGSP_CONSOLE_LOGIN_FAILURE_LIMIT failures per 15 min."""
    limit = stack.app.runtime.settings.console_login_failure_limit
    mount = next(r for r in stack.app.api.routes if getattr(r, "path", "") == "/console")
    failures = mount.app.app.state.login_failures  # type: ignore[attr-defined]
    http = stack.browser()
    try:
        for n in range(limit):
            guess = http.post("/console/login", data={"username": f"staff{n}", "password": "Spring-2026-spray",
                                                      "csrf": login_csrf(http)})
            assert guess.status_code == 401, n
        right = http.post("/console/login", data={"username": "auditor", "password": PASSWORD,
                                                  "csrf": login_csrf(http)})
        assert right.status_code == 429 and int(right.headers["retry-after"]) > 0
        assert 'id="login-form"' in right.text  # the sign-in page, saying why
    finally:
        failures._failures.clear()  # the other tests sign in from the same address
    assert stack.login("auditor").get("/console/").status_code == 200


def test_without_a_session_every_page_and_action_sends_to_sign_in(stack: ConsoleStack) -> None:
    """Every route of the console's routers (read from them, so a new one is covered), asked without a
    session: only sign-in and single sign-on answer; the rest redirect, with the headers."""
    public = {"/login", "/oidc/start", "/oidc/callback", "/logout"}  # logout: a 403 (no token), see below
    http = stack.browser()
    checked = 0
    for route in [r for router in (actions.router, auth_pages.router, pages.router) for r in router.routes]:
        path = getattr(route, "path", "")
        if path in public:
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method == "HEAD":
                continue
            url = "/console" + path.replace("{index}", "1").replace("{doc_id}", "x").replace("{client_id}", "x")
            answer = http.request(method, url, data={"csrf": "x"} if method == "POST" else None)
            assert answer.status_code == 303 and answer.headers["location"].endswith("/console/login"), url
            assert answer.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in answer.headers[
                "content-security-policy"]
            checked += 1
    assert checked >= 15
    assert http.post("/console/logout", data={"csrf": "x"}).status_code in (303, 403)


def test_cookies_are_secure_behind_tls(stack: ConsoleStack) -> None:
    """Behind a TLS-terminating proxy (X-Forwarded-Proto: https) both cookies are Secure; never readable by
    scripts, never sent cross-site."""
    http = stack.browser()
    https = {"X-Forwarded-Proto": "https"}
    page = http.get("/console/login", headers=https)
    assert "Secure" in page.headers["set-cookie"] and "HttpOnly" in page.headers["set-cookie"]
    csrf = csrf_of(page.text)  # httpx keeps a Secure cookie for https only: sent by hand here
    signed_in = stack.browser().post("/console/login", headers={**https, "Cookie": f"{LOGIN_CSRF_COOKIE}={csrf}"},
                                     data={"username": "observer", "password": PASSWORD, "csrf": csrf})
    session = next(c for c in signed_in.headers.get_list("set-cookie") if c.startswith(sessions.COOKIE))
    assert all(flag in session for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/console"))


def test_a_locked_account_looks_like_a_name_that_does_not_exist(stack: ConsoleStack) -> None:
    """Five wrong passwords lock an account; the sixth answer said "locked", which an unknown name never
    gets, so anyone could tell which usernames exist. Both now get the same page (the audit entry keeps why)."""
    mount = next(r for r in stack.app.api.routes if getattr(r, "path", "") == "/console")
    failures = mount.app.app.state.login_failures  # type: ignore[attr-defined]
    create_user(stack.app.runtime.engine, "locked-one", "observer", PASSWORD)
    http = stack.browser()
    pages_seen: dict[str, str] = {}
    try:
        for username in ("locked-one", "nobody-here"):
            for _ in range(6):
                answer = http.post("/console/login", data={"username": username, "password": "wrong-guess-1",
                                                           "csrf": login_csrf(http)})
                assert answer.status_code == 401
            error = answer.text.split('id="login-error"', 1)[1].split("</", 1)[0]
            pages_seen[username] = error
        right = http.post("/console/login", data={"username": "locked-one", "password": PASSWORD,
                                                  "csrf": login_csrf(http)})
        assert right.status_code == 401  # it is locked, really
    finally:
        failures._failures.clear()  # the other tests sign in from the same address
    assert pages_seen["locked-one"] == pages_seen["nobody-here"]


def test_provider_credentials_in_a_base_url_are_shown_only_to_who_may_change_them(stack: ConsoleStack) -> None:
    """A base_url with user:password@ (sent to the provider as Basic authentication) was shown to every
    role on the registry page, in its YAML export and, once its circuit opened, on the home page."""
    engine = stack.app.runtime.engine
    secret_url = "http://svc-user:s3cret-Pa55@127.0.0.1:9/legacy"
    text = export(engine).replace("services:\n", "services:\n- id: 000.00.31.H10/PROV/legacy\n  name: Legacy\n"
                                  f"  base_url: {secret_url}\n", 1)
    apply(engine, parse_registry_file(text))
    stack.app.runtime.registry_changed()
    breakers = stack.app.runtime.breakers
    try:
        while breakers.state(secret_url) == "closed":
            breakers.record_failure(secret_url)
        observer = stack.login("observer")
        for page in ("/console/", "/console/registry", "/console/registry/export.yaml"):
            answer = observer.get(page)
            assert answer.status_code == 200, page
            assert "s3cret-Pa55" not in answer.text and "svc-user" not in answer.text, page
        assert "http://***@127.0.0.1:9/legacy" in observer.get("/console/registry").text
        assert "***@127.0.0.1:9" in observer.get("/console/").text  # the open breaker, still named
        exported = stack.login("operator").get("/console/registry/export.yaml").text
        assert secret_url in exported  # what an operator applies back keeps the credentials
    finally:
        breakers.record_success(secret_url)
        apply(engine, parse_registry_file(text.replace(f"- id: 000.00.31.H10/PROV/legacy\n  name: Legacy\n"
                                                       f"  base_url: {secret_url}\n", "")), prune=True)
        stack.app.runtime.registry_changed()
