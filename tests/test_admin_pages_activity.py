"""Admin pages, activity: the workspace's sync attempts and audit events, newest first,
filtered by integration, outcome, action and date range, and paged by keyset (stable
while rows are added, at most 100 a page); bad filters are a 400 next to their field;
sealed errors are opened; nothing of another workspace shows. Inside Jira it is a
general page for members, without Jira admin rights."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from compliance.retention import set_retention
from config import Settings
from models.audit import record_audit
from models.sync_attempts import SyncAttempt, record_attempt
from tests.admin_fixtures import AdminWorld, admin_world, field_errors

ROW = re.compile(r'<tr data-id="(\d+)"')
NEXT = re.compile(r'id="page-next" href="([^"]+)"')


@pytest.fixture(scope="module")
def world(settings: Settings) -> Iterator[AdminWorld]:
    with admin_world(settings, "admin-activity") as built:
        yield built


def attempt(world: AdminWorld, tenant: uuid.UUID | None = None, **fields: object) -> None:
    values = {"action": "reconcile", "outcome": "ok", "duration_ms": 12, "issue_key": "ALP-1"}
    record_attempt(world.runtime.db, tenant or world.tenant_id, **{**values, **fields})


def ids(text: str) -> list[int]:
    return [int(found) for found in ROW.findall(text)]


def test_attempts_are_filtered_by_integration_and_outcome(world: AdminWorld) -> None:
    mine, other = uuid.uuid4(), uuid.uuid4()
    attempt(world, integration_id=mine, issue_key="ALP-7", outcome="failed", error="boom")
    attempt(world, integration_id=mine, issue_key="ALP-8")
    attempt(world, integration_id=other, issue_key="ALP-9", outcome="failed")
    page = world.get("viewer", f"/activity?integration={mine}&outcome=failed")
    assert page.status_code == 200, page.text
    assert len(ids(page.text)) == 1 and "ALP-7" in page.text and "ALP-9" not in page.text
    assert "Boom." in page.text  # the error in plain words
    assert page.headers["Cache-Control"] == "no-store"


def test_audit_events_are_filtered_by_action_and_a_prefix(world: AdminWorld) -> None:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        record_audit(session, world.tenant_id, "test", "integration.created", "i-1")
        record_audit(session, world.tenant_id, "test", "integration.enabled", "i-1", why="x")
        record_audit(session, world.tenant_id, "test", "member.removed", "m-1")
    exact = world.get("viewer", "/activity?kind=events&action=integration.enabled")
    assert "integration.enabled" in exact.text and "integration.created" not in exact.text
    assert "&#34;why&#34;: &#34;x&#34;" in exact.text  # the details, escaped
    prefix = world.get("viewer", "/activity?kind=events&action=integration.*")
    assert len(ids(prefix.text)) >= 2 and "member.removed" not in prefix.text
    underscore = world.get("viewer", "/activity?kind=events&action=integration_*")
    assert ids(underscore.text) == []  # the prefix is literal, "_" is no wildcard


def test_the_date_range_bounds_the_rows(world: AdminWorld) -> None:
    key = f"OLD-{uuid.uuid4().hex[:6]}"
    attempt(world, issue_key=key, created_at=datetime(2020, 3, 15, 12, tzinfo=UTC))
    day = world.get("viewer", "/activity?from=2020-03-15&to=2020-03-15")
    assert key in day.text and len(ids(day.text)) == 1
    after = world.get("viewer", "/activity?from=2020-03-16&to=2020-03-20")
    assert key not in after.text and "Nothing matches" in after.text


def test_keyset_paging_walks_every_row_once_and_stays_stable(world: AdminWorld) -> None:
    integration = uuid.uuid4()
    for number in range(7):
        attempt(world, integration_id=integration, issue_key=f"PAGE-{number}")
    url, seen, pages = f"/activity?integration={integration}&size=3", [], []
    while url:
        page = world.get("viewer", url)
        assert page.status_code == 200, page.text
        pages.append(ids(page.text))
        seen += pages[-1]
        found = NEXT.search(page.text)
        url = unescape(found[1]).removeprefix("/admin") if found else ""
        if len(pages) == 2:
            second = url
    assert [len(rows) for rows in pages] == [3, 3, 1]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 7
    attempt(world, integration_id=integration, issue_key="PAGE-new")  # newer than them all
    again = world.get("viewer", second)
    assert ids(again.text) == pages[2]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("kind=everything", "kind"),
        ("integration=nope", "integration"),
        ("outcome=great", "outcome"),
        ("kind=events&action=DROP%20TABLE", "action"),
        ("from=yesterday", "from"),
        ("from=2026-02-02&to=2026-02-01", "to"),
        ("size=101", "size"),
        ("size=0", "size"),
        ("after=12~34~56", "after"),
        ("after=9999999999999999999~1", "after"),
        ("after=1~99999999999999999999", "after"),
    ],
)
def test_bad_filters_are_a_400_next_to_their_field(
    world: AdminWorld, query: str, field: str
) -> None:
    page = world.get("viewer", f"/activity?{query}")
    assert page.status_code == 400, page.text
    assert field in field_errors(page)


def test_sealed_errors_are_opened_for_the_page(world: AdminWorld) -> None:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        set_retention(session, seal_sync_logs=True, actor="test")
    world.runtime.log_policies.forget(world.tenant_id)
    key = f"SEAL-{uuid.uuid4().hex[:6]}"
    record_attempt(
        world.runtime.db,
        world.tenant_id,
        world.runtime.log_policies,
        action="reconcile",
        outcome="failed",
        duration_ms=3,
        issue_key=key,
        error="the sealed reason",
    )
    try:
        with world.runtime.db.tenant_session(world.tenant_id) as session:
            row = session.query(SyncAttempt).filter_by(issue_key=key).one()
            assert row.error is None and row.sealed_details is not None
        page = world.get("viewer", f"/activity?outcome=failed&from={datetime.now(UTC):%Y-%m-%d}")
        assert "The sealed reason." in page.text
    finally:
        with world.runtime.db.tenant_session(world.tenant_id) as session:
            set_retention(session, seal_sync_logs=False, actor="test")
        world.runtime.log_policies.forget(world.tenant_id)


def test_no_row_of_another_workspace_shows(world: AdminWorld, new_tenant) -> None:
    theirs = new_tenant("Elsewhere")
    secret_key = f"THEIRS-{uuid.uuid4().hex[:6]}"
    attempt(world, tenant=theirs, issue_key=secret_key)
    with world.runtime.db.tenant_session(theirs) as session:
        record_audit(session, theirs, "them", "integration.created", secret_key)
    for kind in ("attempts", "events"):
        page = world.get("viewer", f"/activity?kind={kind}&size=100")
        assert secret_key not in page.text
    theirs_page = world.get("viewer", "/activity?size=100", tenant=theirs)
    assert secret_key in theirs_page.text and "ALP-7" not in theirs_page.text
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert world.get("viewer", f"/activity?from={tomorrow}").status_code == 200


def test_inside_jira_members_read_it_without_jira_admin_rights(world: AdminWorld) -> None:
    grace, margaret = world.humans[1], world.humans[2]  # neither administers the site
    world.grant(margaret, "member")
    page = world.jira("GET", "/activity", margaret)
    assert page.status_code == 200, page.get_json()
    assert 'name="jwt"' in page.text  # the filter form carries the token on
    refused = world.jira("GET", "/activity", grace)  # a plain viewer of the site
    assert refused.status_code == 403 and "member" in refused.get_json()["message"]
