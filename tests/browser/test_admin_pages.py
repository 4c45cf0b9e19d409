"""The dashboard's admin pages in headless Chromium, against gunicorn and the RQ worker as
the Procfile runs them: an owner signs in, creates an integration with the pickers Jira
feeds (the sandbox site's projects and statuses, loaded as the sites and projects are
chosen), starts it and watches its backfill finish; then previews a clean-up, starts it
and follows its progress bar to the end. No page breaks the Content-Security-Policy.
With TANDEM_SCREENSHOTS=1 the main pages are saved to docs/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlalchemy import select

from auth.accounts import AccountService
from auth.invitations import accept, create_invitation
from config import Settings
from models.installations import Installation
from models.integrations import Integration
from runtime import Runtime
from sync.markers import SYNC_LABEL
from tests.browser.screenshots import save_screenshot
from tests.support.stack import ProcessStack, process_stack

APP_KEY = "io.tandem.browser-admin"
SITE = "alpha"
EMAIL = "owner@example.com"
PASSWORD = "a long and careful passphrase"
WAIT = 30_000  # ms: a bound, not a pause
PLACEHOLDER = {  # the stack's own integration, never started here
    "name": "Placeholder",
    "direction": "one_way",
    "fields": ["summary"],
    "enabled": False,
}


@pytest.fixture(scope="module")
def stack(
    settings: Settings, runtime: Runtime, tmp_path_factory: pytest.TempPathFactory, chromium: str
) -> Iterator[ProcessStack]:
    with process_stack(
        settings, runtime, tmp_path_factory.mktemp("redis"), APP_KEY, SITE, "admin", PLACEHOLDER
    ) as started:
        service = AccountService(runtime)
        token, _, _ = create_invitation(service, started.tenant_id, EMAIL, "owner", "test")
        accept(service, token, PASSWORD)
        for summary in ("Older issue one", "Older issue two", "Older issue three"):
            started.sandbox.control(
                "POST", f"/sites/{SITE}/issues", {"project": "ALP", "summary": summary}
            )
        yield started


@pytest.fixture
def admin(page: Page, stack: ProcessStack) -> Iterator[Page]:
    """A page signed in as the workspace's owner; fails on any CSP violation of an admin
    page (the sign-in form is another page's concern)."""
    violations: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text and "/admin" in page.url:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", note)
    page.goto(f"{stack.web_url}/admin/integrations")
    expect(page.locator("#login-form")).to_be_visible()  # sent to sign in, and back after
    page.fill("#login-email", EMAIL)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#page-title")).to_have_text("Integrations")
    yield page
    assert violations == []


def installation_end(stack: ProcessStack, runtime: Runtime) -> str:
    with runtime.db.tenant_session(stack.tenant_id) as session:
        return f"installation:{session.execute(select(Installation.id)).scalar_one()}"


def test_create_an_integration_and_watch_its_backfill(
    admin: Page, stack: ProcessStack, runtime: Runtime
) -> None:
    page = admin
    page.click("#new-integration")
    expect(page.locator("#page-title")).to_have_text("New integration")
    page.fill("#integration-name", "ALP to ALPR")
    end = installation_end(stack, runtime)
    # Each choice reloads the form with what Jira lists for it (static/admin.js).
    page.select_option("#source-site", end)
    expect(page.locator("#source-project option[value=ALP]")).to_be_attached()
    page.select_option("#source-project", "ALP")
    expect(page.locator("#map-status input[value='In Progress']")).to_be_attached()
    page.select_option("#target-site", end)
    expect(page.locator("#target-project option[value=ALPR]")).to_be_attached()
    page.select_option("#target-project", "ALPR")
    status_map = page.locator("#map-status select").nth(1)  # the row of "In Progress"
    expect(status_map.locator("option[value='In Review']")).to_be_attached()
    assert page.input_value("#integration-name") == "ALP to ALPR"  # kept across reloads
    status_map.select_option("In Review")
    page.check("#field-status")
    page.check("#integration-enable")
    save_screenshot(page.locator("body"), "admin-integration-form")  # the whole form
    page.click("#integration-save")
    expect(page.locator("#page-notice")).to_contain_text("created")
    row = page.locator("tr", has_text="ALP to ALPR")
    expect(row.locator("[data-field=state]")).to_contain_text("Syncing")
    # The backfill runs in the worker; the list polls its progress with no reload.
    expect(row.locator("[data-role=count]")).to_have_text("3 of 3", timeout=WAIT)
    expect(row.locator(".backfill [data-field=status]")).to_have_text("done", timeout=WAIT)
    save_screenshot(page, "admin-integrations")
    with runtime.db.tenant_session(stack.tenant_id) as session:
        stored = session.execute(
            select(Integration).where(Integration.name == "ALP to ALPR")
        ).scalar_one()
        assert stored.config["mappings"]["status"] == {"In Progress": "In Review"}


def test_preview_then_run_a_clean_up_with_its_progress(
    admin: Page, stack: ProcessStack, runtime: Runtime
) -> None:
    page = admin
    with runtime.db.tenant_session(stack.tenant_id) as session:
        integration = session.execute(
            select(Integration.id).where(Integration.name == "ALP to ALPR")
        ).scalar_one()
    page.click("#admin-nav >> text=Disconnect & clean up")
    page.select_option("#cleanup-scope", str(integration))
    page.click("#cleanup-preview")
    # The page polls the run and shows its outcome when it ends.
    counts = page.locator("#cleanup-counts")
    expect(counts).to_be_visible(timeout=WAIT)
    expect(page.locator("#cleanup-status")).to_have_text("finished")
    expect(counts.locator("caption")).to_have_text("Would be removed")
    labels = counts.locator("[data-kind=labels]").first
    expect(labels).to_have_text("3")
    save_screenshot(page, "admin-cleanup-preview")
    page.click("#cleanup-start")
    expect(page.locator("[data-error-for=confirm]")).to_be_visible()  # not confirmed yet
    page.check("#cleanup-confirm")
    page.click("#cleanup-start")
    expect(page.locator("#cleanup-run progress")).to_be_attached()
    expect(page.locator("#cleanup-counts caption")).to_have_text("Removed", timeout=WAIT)
    expect(page.locator("#cleanup-status")).to_have_text("finished")
    expect(page.locator("[data-role=count]")).to_have_text("3 of 3")
    save_screenshot(page, "admin-cleanup")
    issues = stack.sandbox.control("GET", f"/sites/{SITE}/issues")
    assert not [i["key"] for i in issues if SYNC_LABEL in i["fields"]["labels"]]


def test_the_other_pages_render(admin: Page, stack: ProcessStack) -> None:
    page = admin
    for label, title, shot in (
        ("Activity", "Activity", "admin-activity"),
        ("Settings", "Settings", "admin-settings"),
        ("Members", "Members and roles", "admin-members"),
        ("Connections", "Connected sites", "admin-connections"),
        ("Delete account", "Delete account", "admin-deletion"),
    ):
        page.click(f"#admin-nav >> text={label}")
        expect(page.locator("#page-title")).to_have_text(title)
        save_screenshot(page, shot)
    page.click("#admin-nav >> text=Activity")
    page.select_option("#filter-kind", "events")
    page.click("#filter-submit")
    expect(page.locator("#events")).to_contain_text("cleanup.finished")


def test_ten_failed_sign_ins_lock_the_account_in_the_browser(
    page: Page, stack: ProcessStack, runtime: Runtime
) -> None:
    """Ten wrong passwords on the sign-in form lock the account: the right one is then
    refused with the very message a wrong password gets, and nobody is signed in."""
    email, password = "auditor@example.com", "another careful passphrase"
    service = AccountService(runtime)
    token, _, _ = create_invitation(service, stack.tenant_id, email, "viewer", "test")
    accept(service, token, password)

    def sign_in(with_password: str) -> str:
        page.goto(f"{stack.web_url}/auth/login")
        page.fill("#login-email", email)
        page.fill("#login-password", with_password)
        page.click("#login-submit")
        expect(page.locator("#form-error")).to_be_visible()
        return page.locator("#form-error").inner_text()

    refusals = {sign_in(f"wrong guess {attempt}") for attempt in range(10)}
    assert len(refusals) == 1, refusals
    assert sign_in(password) in refusals, "locked: the right password is refused alike"
    page.goto(f"{stack.web_url}/admin/integrations")
    expect(page.locator("#login-form")).to_be_visible()
