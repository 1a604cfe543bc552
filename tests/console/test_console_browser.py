"""The console in a real browser (Debian's Chromium driven by Playwright): what an operator, an auditor and an
observer actually do. Screenshots go to $LGSP_SCREENSHOTS_DIR when set (docs/console/ is made that way)."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from lgsp.delivery.models import OutboxMessage
from lgsp.delivery.outbox import NewMessage, accept
from lgsp.testing.postgres import missing_service
from tests.console.conftest import CITY, CLIENT, ECHO, PASSWORD, ConsoleStack

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        missing_service("Debian's chromium is not installed (scripts/ensure-chromium.sh installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"])
        yield launched
        launched.close()


def shot(page: Page, name: str) -> None:
    folder = os.environ.get("LGSP_SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def sign_in(browser: Browser, stack: ConsoleStack, username: str, **context: object) -> Page:
    page = browser.new_context(base_url=stack.url, locale="vi-VN", **context).new_page()  # type: ignore[arg-type]
    page.goto("/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#who")).to_have_attribute("data-role", {"security-officer": "security_officer"}.get(
        username, username))
    return page


def test_operator_changes_the_registry_and_replays_a_dead_letter(browser: Browser, stack: ConsoleStack) -> None:
    token = httpx.post(f"{stack.url}/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(stack.client.client_id, stack.client.client_secret)).json()["access_token"]
    for n in range(30):  # some traffic for the home page, a few of them failing at the provider
        path = f"status/{503 if n % 7 == 0 else 200}"
        httpx.get(f"{stack.url}/services/{ECHO}/{path}", headers={"Authorization": f"Bearer {token}"})
    page = sign_in(browser, stack, "operator")
    expect(page.locator("#services")).to_contain_text(ECHO)
    shot(page, "home")
    page.goto("/console/registry")
    text = page.input_value("#yaml")
    service = f"000.00.31.H10/PROV/tra-cuu-{uuid.uuid4().hex[:4]}"
    page.fill("#yaml", text.replace("grants:\n", f"- id: {service}\n  name: Tra cứu\n  base_url: {stack.provider.url}\n"
                                    f"grants:\n- client: {CLIENT}\n  service: {service}\n  methods: ['GET']\n"
                                    f"  path: '*'\n"))
    page.click("#preview")
    expect(page.locator("#diff")).to_contain_text(f"+ service {service}")
    expect(page.locator("#diff")).to_contain_text(f"+ grant {CLIENT} -> {service}")
    shot(page, "registry-diff")
    page.click("#apply")
    expect(page.locator("#applied")).to_be_visible()
    expect(page.locator("#services")).to_contain_text(service)

    engine = stack.app.runtime.engine
    queued = accept(engine, NewMessage(kind="http", payload=b"{}", content_type="application/json",
                                       destination="http://127.0.0.1:9/x", client_id="test"))
    with engine.begin() as conn:
        conn.execute(update(OutboxMessage).where(OutboxMessage.message_id == queued.message_id)
                     .values(state="dead", last_error="provider answered 503 five times"))
    page.goto("/console/deliveries?state=dead")
    row = page.locator(f'tr[data-message-id="{queued.message_id}"]')
    row.locator('input[name="confirm"]').check()
    row.locator("button").click()
    expect(page.locator("#done")).to_contain_text("replayed 1")
    expect(page.locator(f'tr[data-message-id="{queued.message_id}"]')).to_have_attribute("data-state", "pending")
    shot(page, "deliveries")


def test_auditor_finds_a_call_and_verifies_its_receipt_in_the_browser(browser: Browser, stack: ConsoleStack) -> None:
    message_id = str(uuid.uuid4())
    token = httpx.post(f"{stack.url}/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(stack.client.client_id, stack.client.client_secret)).json()["access_token"]
    call = httpx.get(f"{stack.url}/services/{ECHO}/ho-tich/42", headers={"Authorization": f"Bearer {token}",
                                                                        "X-LGSP-Message-Id": message_id})
    assert call.status_code == 200
    page = sign_in(browser, stack, "auditor")
    page.goto("/console/log")
    page.fill("#f-id", message_id)
    page.click("#search")
    row = page.locator(f'tr[data-message-id="{message_id}"]')
    expect(row).to_have_count(1)
    shot(page, "log")
    row.locator("a").first.click()
    deadline = time.monotonic() + 15
    while page.locator("#verify-proof").count() == 0 and time.monotonic() < deadline:
        time.sleep(0.3)  # the head covering the entry is signed within a moment
        page.reload()
    page.click("#verify-proof")
    expect(page.locator("#proof-result")).to_have_attribute("data-verdict", "verified")
    expect(page.locator("#proof-steps li")).to_have_count(3)
    shot(page, "receipt-verified")
    tampered = page.evaluate("""async () => {
        const receipt = JSON.parse(document.getElementById('receipt-data').textContent);
        receipt.entries[0].entry.status = 500;
        try { await window.lgspVerifyReceipt(receipt, () => {}); return 'verified'; }
        catch (e) { return e.message; }
    }""")
    assert "not the head's root" in tampered
    forged_signature = page.evaluate("""async () => {
        const receipt = JSON.parse(document.getElementById('receipt-data').textContent);
        const sig = atob(receipt.heads[0].signature).split('');
        sig[5] = String.fromCharCode(sig[5].charCodeAt(0) ^ 1);
        receipt.heads[0].signature = btoa(sig.join(''));
        try { await window.lgspVerifyReceipt(receipt, () => {}); return 'verified'; }
        catch (e) { return e.message; }
    }""")
    assert "signature does not verify" in forged_signature


def test_observer_can_look_but_not_change(browser: Browser, stack: ConsoleStack) -> None:
    page = sign_in(browser, stack, "observer")
    page.goto("/console/registry")
    expect(page.locator("#preview")).to_have_count(0)
    page.goto("/console/clients")
    expect(page.locator("#create-client")).to_have_count(0)
    expect(page.locator("#rotate-keys")).to_have_count(0)
    csrf = page.locator('input[name="csrf"]').first.input_value()
    refused = page.request.post("/console/registry/apply", form={"yaml": "agencies: []", "csrf": csrf})
    assert refused.status == 403
    no_token = page.request.post("/console/clients", form={"system": CLIENT})
    assert no_token.status == 403
    shot(page, "observer-clients")


def test_sign_in_through_the_identity_provider(browser: Browser, stack: ConsoleStack) -> None:
    page = browser.new_context(base_url=stack.url).new_page()
    page.goto("/console/login?lang=en")
    shot(page, "login")
    page.click("#sso")
    page.select_option("#idp-user", "lan.nguyen")
    page.click("#idp-login")
    expect(page.locator("#who")).to_have_attribute("data-role", "auditor")
    expect(page.locator("#who")).to_contain_text("Nguyễn Thị Lan")


def test_sign_in_through_an_identity_provider_on_another_site(browser: Browser, stack: ConsoleStack) -> None:
    """The provider at 127.0.0.1, the console opened as localhost: two sites, as in production. The callback's
    303 went on without the SameSite=Strict session cookie (the redirect chain began on the provider's site),
    so the person landed on the sign-in page again."""
    page = browser.new_context(base_url=stack.url.replace("127.0.0.1", "localhost")).new_page()
    page.goto("/console/login?lang=en")
    page.click("#sso")
    page.select_option("#idp-user", "lan.nguyen")
    page.click("#idp-login")
    expect(page.locator("#who")).to_have_attribute("data-role", "auditor")
    assert page.url.endswith("/console/")


XSS = """"'><b class="xss">x</b><img class="xss" src="x" onerror="document.title='pwned'">"""


def test_no_caller_or_operator_string_becomes_markup_in_the_browser(browser: Browser, stack: ConsoleStack) -> None:
    """Stored XSS, by every string the console shows that a caller (paths, user ids, client ids, packet
    subjects, delivery errors) or an operator (agency, system, dataset names, base URLs) put there. The page may not
    grow an element from the text, nor try to run it (a CSP violation would show that CSP alone stopped it)."""
    from datetime import UTC, datetime

    from lgsp.documents.models import Document
    from registry.datasets import Dataset
    from registry.models import Agency, Service, System

    engine = stack.app.runtime.engine
    token = httpx.post(f"{stack.url}/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(stack.client.client_id, stack.client.client_secret)).json()["access_token"]
    call = httpx.get(f"{stack.url}/services/{ECHO}/{XSS}", headers={"Authorization": f"Bearer {token}",
                                                                    "X-LGSP-User-Id": XSS})
    httpx.get(f"{stack.url}/services/{XSS}/x", headers={"Authorization": f"Bearer {token}"})
    httpx.post(f"{stack.url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(XSS, "x"))
    queued = accept(engine, NewMessage(kind="http", payload=b"{}", content_type="application/json",
                                       destination=f"http://127.0.0.1:9/{XSS}", client_id="test"))
    doc_id, now = str(uuid.uuid4()), datetime.now(UTC)
    with engine.begin() as conn:
        before = [(table, conn.execute(select(table.__table__)).all()) for table in (Agency, System, Service)]
        conn.execute(update(OutboxMessage).where(OutboxMessage.message_id == queued.message_id)
                     .values(state="dead", last_error=XSS))
        conn.execute(update(Agency).values(name=XSS))
        conn.execute(update(System).values(name=XSS))
        conn.execute(update(Service).values(base_url=f"http://127.0.0.1:9/{XSS}"))
        conn.execute(Document.__table__.insert().values(
            id=doc_id, direction="in", kind="edoc", agency=XSS[:40], sender=XSS[:40], recipients=[XSS],
            document_id=XSS, code=XSS, subject=XSS, status_code=None, packet_blob="none", packet_sha256="0" * 64,
            size=1, client_id=XSS, dms_status=None, deviations=[XSS], signature=XSS, created_at=now, updated_at=now))
        conn.execute(Dataset.__table__.insert().values(
            slug="xss", title_vi=XSS, owner_agency_code=CITY, organization="so-tu-phap", organization_title=XSS,
            source_service_id=ECHO, source_path="/x", table_schema={"fields": [{"name": "a", "type": "string"}]},
            created_at=now, updated_at=now))
    try:
        page = sign_in(browser, stack, "operator")
        page.add_init_script("window.__csp = 0; "
                             "document.addEventListener('securitypolicyviolation', () => { window.__csp += 1; })")
        index = call.headers["x-lgsp-audit-index"]
        shown = 0
        for path in ("/console/", "/console/log", f"/console/log/{index}", "/console/registry", "/console/clients",
                     "/console/deliveries?state=dead", "/console/documents", f"/console/documents/{doc_id}",
                     "/console/opendata", "/console/log?client=" + XSS):
            page.goto(path)
            assert page.locator(".xss").count() == 0, path
            assert page.evaluate("window.__csp") == 0 and page.title() != "pwned", path
            shown += '<b class="xss">' in page.locator("body").inner_text()
        assert shown == 6  # as text: the entry, registry, deliveries, documents, document and open data pages
    finally:
        with engine.begin() as conn:
            for table, rows in before:  # the names and URLs the other tests expect
                for row in rows:
                    key = table.__table__.primary_key.columns.values()[0]
                    conn.execute(update(table).where(key == getattr(row, key.name)).values(**row._mapping))
            conn.execute(Document.__table__.delete().where(Document.id == doc_id))
            conn.execute(Dataset.__table__.delete().where(Dataset.slug == "xss"))
            conn.execute(update(OutboxMessage).where(OutboxMessage.message_id == queued.message_id)
                         .values(state="delivered"))
        stack.app.runtime.registry_changed()


def test_readable_on_a_phone(browser: Browser, stack: ConsoleStack) -> None:
    page = sign_in(browser, stack, "operator", viewport={"width": 390, "height": 844}, is_mobile=True)
    # measured once the page is complete: style sheets applied and the tables filled (under load, #who can
    # appear before the style sheet has been applied, and an unstyled table is as wide as its content)
    page.wait_for_load_state("networkidle")
    expect(page.locator("#services")).to_contain_text(ECHO)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400  # no sideways scrolling of the page itself (tables scroll inside their box)
    shot(page, "home-phone")
