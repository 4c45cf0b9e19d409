"""The issue panel in headless Chromium, framed by the sandbox's issue view as Jira
frames it (a context JWT on the iframe URL), against gunicorn and the RQ worker as the
Procfile runs them: the panel lists the mirror; a change made on the sandbox is synced by
the worker and the open panel shows the new sync; "Sync now" shows its outcome; inside
Jira (all.js present) its calls use AP.context.getToken(); a failed sync reads in plain
words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from config import Settings
from handlers.security_headers import ATLASSIAN_SCRIPT_HOST
from models.accounts import Membership
from models.audit import AuditEvent
from models.links import IssueLink
from runtime import Runtime
from sandbox.tokens import context_token
from tests.browser.screenshots import save_screenshot
from tests.support.processes import logs, wait_until
from tests.support.stack import ProcessStack, process_stack

APP_KEY = "io.tandem.browser"
SITE = "alpha"
WAIT = 20  # seconds: a bound, not a pause
MIRRORING = {
    "name": "ALP to ALPR",
    "direction": "one_way",
    "fields": ["summary", "status"],
    "mappings": {"status": {"Done": "Nowhere"}},  # ALPR has no such status: a failure
    "enabled": True,
}
AP_USER = "person-from-ap"


@pytest.fixture(scope="module")
def stack(
    chromium: str, settings: Settings, runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProcessStack]:
    with process_stack(
        settings, runtime, tmp_path_factory.mktemp("redis"), APP_KEY, SITE, "browser", MIRRORING
    ) as started:
        # The person the issue view shows the page to, and the one AP's tokens name, may
        # press "Sync now" (members).
        viewer = started.sandbox.state.sites[SITE].humans[0]
        with runtime.db.tenant_session(started.tenant_id) as session:
            for account in (viewer, AP_USER):
                session.add(
                    Membership(
                        tenant_id=started.tenant_id, atlassian_account_id=account, role="member"
                    )
                )
        yield started


def control(stack: ProcessStack, method: str, path: str, **body: Any) -> Any:
    return stack.sandbox.control(method, f"/sites/{SITE}{path}", body or None)


def mirrored(stack: ProcessStack, runtime: Runtime, summary: str) -> tuple[str, str]:
    """A person creates an ALP issue; its key and its mirror's once the worker synced it."""
    key = control(stack, "POST", "/issues", project="ALP", summary=summary)["key"]

    def mirror() -> str | None:
        with runtime.db.tenant_session(stack.tenant_id) as session:
            return session.execute(
                select(IssueLink.target_issue_key).where(IssueLink.source_issue_key == key)
            ).scalar_one_or_none()

    assert wait_until(lambda: mirror() is not None, WAIT), logs(stack.processes)
    return key, str(mirror())


def open_issue(page: Page, stack: ProcessStack, key: str) -> Any:
    """The sandbox's issue view of ``key``; the panel's frame."""
    page.goto(f"{stack.sandbox.site_url(SITE)}/browse/{key}")
    expect(page.locator("#issue-key")).to_have_text(key)
    return page.frame_locator("iframe[title='Tandem sync']")


def synced_panel(page: Page, stack: ProcessStack, runtime: Runtime, summary: str) -> tuple:
    """A newly mirrored issue open in the issue view: its key, its mirror's key, the
    panel's frame and the mirror's item, which shows the sync."""
    key, mirror = mirrored(stack, runtime, summary)
    panel = open_issue(page, stack, key)
    item = panel.locator("li.mirror")
    expect(item.locator("[data-field=other_key]")).to_have_text(mirror)
    expect(item.locator("[data-field=outcome_words]")).to_have_text("Synced")
    return key, mirror, panel, item


def test_the_panel_lists_the_mirror_follows_a_sync_and_syncs_on_request(
    page: Page, stack: ProcessStack, runtime: Runtime
) -> None:
    key, mirror, panel, item = synced_panel(page, stack, runtime, "Shown in a real browser")
    link = item.locator("[data-field=other_key]")
    assert link.get_attribute("href") == f"{stack.sandbox.site_url(SITE)}/browse/{mirror}"
    synced = item.locator("[data-field=last_synced]")
    first = synced.get_attribute("datetime")
    assert first

    control(stack, "PUT", f"/issues/{key}", summary="Renamed in ALP")
    # The worker syncs it; the open panel polls and shows the new time, with no reload.
    expect(synced).not_to_have_attribute("datetime", first, timeout=WAIT * 1000)
    assert control(stack, "GET", f"/issues/{mirror}")["fields"]["summary"] == "Renamed in ALP"
    expect(item.locator("[data-field=outcome_words]")).to_have_text("Synced")
    save_screenshot(page, "issue-panel")

    attempted = item.locator("[data-field=last_attempt]").get_attribute("datetime")
    item.get_by_role("button", name="Sync now").click()
    status = panel.locator("[data-role=status]")
    expect(status).to_have_text(f"{mirror}: In step: nothing needed copying", timeout=WAIT * 1000)
    assert item.locator("[data-field=last_attempt]").get_attribute("datetime") != attempted


def test_inside_jira_the_panel_takes_its_tokens_from_ap(
    page: Page, stack: ProcessStack, runtime: Runtime
) -> None:
    key, _ = mirrored(stack, runtime, "Inside Jira")
    installation = stack.sandbox.state.installation(SITE, APP_KEY)
    assert installation is not None
    issue = control(stack, "GET", f"/issues/{key}")
    context = {"jira": {"issue": {"id": issue["id"], "key": key}}}
    fresh = context_token(installation.shared_secret, installation.client_key, AP_USER, context)
    # A stand-in for Atlassian's all.js: AP.context.getToken() hands out a fresh token.
    stub = (
        "window.AP = {resize: function () {}, context: {getToken: function (callback) {"
        "callback(" + json.dumps(fresh) + "); }}};"
    )
    page.route(
        f"{ATLASSIAN_SCRIPT_HOST}/all.js",
        lambda route: route.fulfill(body=stub, content_type="application/javascript"),
    )
    panel = open_issue(page, stack, key)
    panel.get_by_role("button", name="Sync now").click()
    expect(panel.locator("[data-role=status]")).to_contain_text("In step", timeout=WAIT * 1000)
    with runtime.db.tenant_session(stack.tenant_id) as session:
        actors = session.execute(
            select(AuditEvent.actor).where(AuditEvent.action == "issue_link.sync_requested")
        ).scalars()
        assert f"jira:{AP_USER}" in set(actors)


def test_a_failed_sync_reads_in_plain_words(
    page: Page, stack: ProcessStack, runtime: Runtime
) -> None:
    key, _, _, item = synced_panel(page, stack, runtime, "Headed nowhere")
    control(stack, "PUT", f"/issues/{key}", status="Done")
    error = item.locator("[data-field=error]")
    expect(error).to_be_visible(timeout=WAIT * 1000)
    expect(error).to_contain_text("could not move")
    expect(error).to_contain_text("'Nowhere'")
    expect(item.locator("[data-field=outcome_words]")).to_have_text("Failed")
