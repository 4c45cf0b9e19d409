"""Atlassian personal-data reporting against the sandbox over real HTTP (Tandem served,
signed webhooks, a real RQ worker, real PostgreSQL and Redis): the accounts Tandem
stores are reported with their refreshed time, in batches of at most 90; a closed
account's personal data is erased from every place Tandem holds it and a changed one
refreshed; 204 changes nothing; 429 is honoured; another tenant is never reported or
touched; OAuth-connected sites report through the API gateway."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, text

from compliance.personal_data import BATCH, report_accounts, tenants_to_report, updated_at
from compliance.personal_data_jobs import (
    ATTEMPTS,
    report_personal_data_job,
    report_tenant_personal_data_job,
)
from compliance.personal_data_payloads import ERASED, redact
from compliance.retention import set_retention
from config import Settings
from models.accounts import Membership
from models.atlassian_accounts import AtlassianAccount, note_accounts
from models.audit import AuditEvent
from models.installations import Installation, create_installation
from models.integrations import Integration
from models.links import CommentLink
from models.raw_responses import RawResponse
from models.sync_attempts import SyncAttempt, attempt_details, record_attempt
from models.webhook_events import WebhookEvent
from runtime import Runtime
from sync.accounts_seen import payload_accounts
from tests.oauth_world import clear_queues, oauth_world
from tests.sync_world import World, sync_world

ONE_WAY = {
    "name": "ALP to ALPR",
    "direction": "one_way",
    "fields": ["summary", "assignee", "comments"],
}
ENDPOINT = "POST /app/report-accounts/"


@pytest.fixture
def world(settings: Settings, runtime: Runtime) -> Iterator[World]:
    app_key = f"io.tandem.pd-{uuid.uuid4().hex[:8]}"
    with sync_world(settings, runtime, app_key, ONE_WAY) as built:
        yield built


def _humans(world: World) -> list[str]:
    return world.sandbox.control("GET", "/sites/alpha")["humans"]


def _rows(runtime: Runtime, tenant_id: uuid.UUID) -> dict[str, AtlassianAccount]:
    with runtime.db.tenant_session(tenant_id) as session:
        rows = session.execute(select(AtlassianAccount)).scalars()
        return {row.account_id: row for row in rows}


def _reports(world: World) -> list[dict[str, Any]]:
    return world.sandbox.personal_data()["reports"]


def _sent(report: dict[str, Any]) -> dict[str, str]:
    return {a["accountId"]: a["updatedAt"] for a in report["body"]["accounts"]}


def _installation(world: World) -> Installation:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        return session.execute(select(Installation)).scalar_one()


def _payload_text(world: World, tenant_id: uuid.UUID | None = None) -> str:
    with world.runtime.db.tenant_session(tenant_id or world.tenant_id) as session:
        rows = session.execute(select(WebhookEvent.payload)).scalars()
        return json.dumps(list(rows), ensure_ascii=False)


def _audits(world: World, action: str = "personal_data.reported") -> list[AuditEvent]:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        return list(
            session.execute(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            ).scalars()
        )


def _issue_with_comments(world: World, assignee: str, *authors: str) -> dict[str, Any]:
    issue = world.control("POST", "/issues", project="ALP", summary="People", assignee=assignee)
    for n, author in enumerate(authors):
        world.control("POST", f"/issues/{issue['key']}/comments", body=f"note {n}", actor=author)
    world.settle()
    return issue


def test_stored_accounts_are_reported_with_their_refreshed_time_and_204_changes_nothing(
    world: World,
) -> None:
    ada, grace, margaret = _humans(world)[:3]
    issue = _issue_with_comments(world, grace, margaret)
    app_account = world.sandbox.control("GET", "/installations")[0]["appAccountId"]
    stored = _rows(world.runtime, world.tenant_id)
    assert {ada, grace, margaret} <= set(stored)  # actor/reporter, assignee, comment author
    assert app_account not in stored  # the app's own user is not a person
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        (link,) = session.execute(select(CommentLink)).scalars()
        assert link.author_account_id == margaret
    payloads_before = _payload_text(world)

    result = report_accounts(world.runtime, world.tenant_id)

    (report,) = _reports(world)
    assert (report["kind"], report["site"], report["status"]) == ("connect", "alpha", 204)
    sent = _sent(report)
    assert set(sent) == set(stored) and len(report["body"]["accounts"]) == len(stored)
    for account, stamp in sent.items():
        assert stamp.endswith("Z") and len(stamp) == len("2018-10-25T23:08:51.382Z")
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        refreshed = stored[account].refreshed_at
        assert moment <= refreshed and (refreshed - moment).total_seconds() < 0.001
    assert (result.reported, result.batches, result.closed, result.updated) == (
        len(stored),
        1,
        0,
        0,
    )
    after = _rows(world.runtime, world.tenant_id)
    assert {a: r.refreshed_at for a, r in after.items()} == {
        a: r.refreshed_at for a, r in stored.items()
    }
    assert all(r.reported_at is not None and r.closed_at is None for r in after.values())
    assert _payload_text(world) == payloads_before
    texts = [c["text"] for c in world.comments(world.mirror_of(issue["key"])["key"])]
    assert any(t.endswith("written by Margaret Hamilton") for t in texts)
    (audit,) = _audits(world)
    assert audit.actor == "system" and audit.details["reported"] == len(stored)
    assert not any(account in json.dumps(audit.details) for account in stored)


def test_more_than_90_accounts_go_in_batches_of_at_most_90(world: World) -> None:
    installation = _installation(world)
    many = [f"557058:{uuid.uuid4()}" for _ in range(BATCH + 7)]
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        note_accounts(session, "installation", installation.id, many)
        note_accounts(session, "installation", installation.id, many[:5])  # noted once
    result = report_accounts(world.runtime, world.tenant_id)
    reports = _reports(world)
    sizes = [len(r["body"]["accounts"]) for r in reports]
    assert sizes == [BATCH, 7] and result.batches == 2
    sent = [a for r in reports for a in _sent(r)]
    assert sorted(sent) == sorted(many)  # every account once
    counted = world.sandbox.counters(world.app_key)["by_endpoint"][ENDPOINT]
    assert counted["calls"] == 2


def test_a_closed_account_is_erased_everywhere_and_a_changed_one_refreshed(
    settings: Settings, runtime: Runtime
) -> None:
    integration = {**ONE_WAY, "mappings": {"users": {}, "default_assignee": None}}
    with sync_world(settings, runtime, "io.tandem.pd-erase", integration) as world:
        _erase_and_refresh(world)


def _seed_other_places(world: World, margaret: str, grace: str, alan: str) -> list[str]:
    """What the engine does not write every day: a mapping, workspace roles, a sync error
    naming an account, a raw response, cached cross-site matches. Returns the Redis keys
    seeded."""
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        row = session.get(Integration, world.integration_id)
        row.config = {
            **row.config,
            "mappings": {"users": {margaret: grace, grace: grace}, "default_assignee": margaret},
        }
        installation = session.execute(select(Installation)).scalar_one()
        for person in (margaret, alan):  # workspace roles of two Jira users
            session.add(
                Membership(tenant_id=world.tenant_id, atlassian_account_id=person, role="member")
            )
        session.add(
            RawResponse(
                tenant_id=world.tenant_id,
                data_key_id=installation.data_key_id,
                source="get_user",
                body=b"sealed",
            )
        )
    record_attempt(
        world.runtime.db,
        world.tenant_id,
        action="update",
        outcome="failed",
        error=f"Jira refused edit_issue (400): User '{margaret}' cannot be assigned issues.",
        details={"assignee": margaret},
        duration_ms=1,
        issue_key="ALP-999",
    )
    site = world.sandbox.site_url("alpha")
    keys = {
        f"tandem:people:{site}:https://other.example:{margaret}": "557058:someone",
        f"tandem:people:{site}:https://other.example:{grace}": margaret,
        f"tandem:people:{site}:https://other.example:557058:kept": "557058:match",
    }
    for key, value in keys.items():
        world.runtime.redis.set(key, value, ex=600)
    return list(keys)


def _erase_and_refresh(world: World) -> None:
    ada, grace, margaret, alan = _humans(world)[:4]
    issue = _issue_with_comments(world, grace, margaret, ada)
    mirror = world.mirror_of(issue["key"])["key"]
    redis_keys = _seed_other_places(world, margaret, grace, alan)
    before = _rows(world.runtime, world.tenant_id)
    assert {ada, grace, margaret} <= set(before)
    assert "margaret@example.com" in _payload_text(world)  # her email is public
    started = datetime.now(UTC)
    world.sandbox.close_account(margaret)
    world.sandbox.update_account(ada, displayName="Ada King")
    time.sleep(0.01)  # updatedAt goes in whole milliseconds, rounded down

    result = report_accounts(world.runtime, world.tenant_id)

    assert (result.closed, result.updated, result.erasure_pending) == (1, 1, 0)
    assert alan in _sent(_reports(world)[0])  # known only as a member: reported too
    after = _rows(world.runtime, world.tenant_id)
    assert margaret not in after  # the rows only served her
    assert after[ada].refreshed_at >= started
    assert after[grace].refreshed_at == before[grace].refreshed_at
    # The mapping: her entry and default gone, the rest kept.
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        mappings = session.get(Integration, world.integration_id).config["mappings"]
        assert mappings == {"users": {grace: grace}, "default_assignee": None}
        links = {c.source_comment_id: c for c in session.execute(select(CommentLink)).scalars()}
        members = session.execute(select(Membership.atlassian_account_id)).scalars().all()
        attempts = session.execute(select(SyncAttempt.error, SyncAttempt.details)).all()
        raw = session.execute(text("SELECT count(*) FROM raw_responses")).scalar_one()
        audit_naming = session.execute(
            text("SELECT count(*) FROM audit_events WHERE strpos(details::text, :a) > 0"),
            {"a": margaret},
        ).scalar_one()
    # Stored webhook payloads: nothing of her, and only Ada's id (no stale name or email).
    payloads = _payload_text(world)
    for gone in (margaret, "Margaret Hamilton", "margaret@example.com", "Ada Lovelace"):
        assert gone not in payloads, gone
    assert ada in payloads and ERASED in payloads
    # The copies' attribution lines: "a former user" for her, the new name for Ada.
    texts = [c["text"] for c in world.comments(mirror)]
    assert any(t.endswith("written by a former user") for t in texts), texts
    assert any(t.endswith("written by Ada King") for t in texts), texts
    assert not any("Margaret" in t or "Ada Lovelace" in t for t in texts)
    assert sorted(str(c.author_account_id) for c in links.values()) == sorted([ada, "None"])
    assert not any(margaret in f"{error} {json.dumps(details)}" for error, details in attempts)
    assert raw == 0 and audit_naming == 0 and members == [alan]
    assert [world.runtime.redis.exists(k) for k in redis_keys] == [0, 0, 1]
    (audit,) = _audits(world)
    assert audit.details["closed"] == 1 and audit.details["updated"] == 1
    assert audit.details["erased"]["attributions"] == 1
    assert audit.details["refreshed"]["attributions"] == 1
    assert margaret not in json.dumps(audit.details) and ada not in json.dumps(audit.details)

    # Next week: she is not reported any more, Ada is, with the new time, and nothing to do.
    report_accounts(world.runtime, world.tenant_id)
    last = _sent(_reports(world)[-1])
    assert margaret not in last
    assert last[ada] == updated_at(after[ada].refreshed_at)
    assert _reports(world)[-1]["status"] == 204


def test_a_429_is_waited_out_and_the_batch_sent_again(world: World) -> None:
    _issue_with_comments(world, _humans(world)[1])
    world.sandbox.set_personal_data(rate_limit_next=1, retry_after_s=1)
    result = report_accounts(world.runtime, world.tenant_id)
    reports = _reports(world)
    assert [r["status"] for r in reports] == [429, 204]
    assert _sent(reports[0]) == _sent(reports[1])
    assert (result.batches, result.failed_batches) == (1, 0)
    assert world.sandbox.counters(world.app_key)["violations"] == []
    waited = datetime.fromisoformat(reports[1]["at"].replace("Z", "+00:00")) - (
        datetime.fromisoformat(reports[0]["at"].replace("Z", "+00:00"))
    )
    assert waited.total_seconds() >= 1


def test_sealed_sync_logs_naming_a_closed_account_lose_their_detailed_part(world: World) -> None:
    margaret = _humans(world)[2]
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        set_retention(session, seal_sync_logs=True)
        note_accounts(session, "installation", _installation(world).id, [margaret])
    world.runtime.log_policies.forget(world.tenant_id)
    for key, words in (("S-1", f"User '{margaret}' cannot be assigned"), ("S-2", "fine")):
        record_attempt(
            world.runtime.db,
            world.tenant_id,
            world.runtime.log_policies,
            issue_key=key,
            action="update",
            outcome="failed",
            error=words,
            details={"note": words},
            duration_ms=1,
        )
    world.sandbox.close_account(margaret)

    result = report_accounts(world.runtime, world.tenant_id)

    assert result.erased["sealed_sync_logs"] == 1
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        rows = {a.issue_key: a for a in session.execute(select(SyncAttempt)).scalars()}
        assert (rows["S-1"].sealed_details, rows["S-1"].details, rows["S-1"].error) == (
            None,
            {},
            None,
        )
        assert rows["S-1"].action == "update"  # the minimal row stays
        kept = attempt_details(session, world.runtime.keys, rows["S-2"])
        assert kept == ({"note": "fine"}, "fine") and rows["S-2"].sealed_details is not None


def test_another_tenants_accounts_are_neither_reported_nor_touched(
    world: World, new_tenant
) -> None:
    grace, margaret = _humans(world)[1:3]
    _issue_with_comments(world, grace, margaret)
    other = new_tenant("Other")
    only_theirs = f"557058:{uuid.uuid4()}"
    payload = {"user": {"accountId": margaret, "displayName": "Margaret Hamilton"}}
    with world.runtime.db.tenant_session(other) as session:
        installation = create_installation(
            session, world.runtime.keys, f"other-{uuid.uuid4()}", "https://other.example", "s" * 32
        )
        note_accounts(session, "installation", installation.id, [margaret, only_theirs])
        session.add(
            WebhookEvent(
                tenant_id=other,
                installation_id=installation.id,
                identifier=f"hook-{uuid.uuid4()}",
                event="comment_created",
                payload=payload,
                status="processed",
                received_at=datetime.now(UTC),
            )
        )
    theirs_before = _rows(world.runtime, other)
    world.sandbox.close_account(margaret)

    result = report_accounts(world.runtime, world.tenant_id)

    assert result.closed == 1 and margaret not in _rows(world.runtime, world.tenant_id)
    assert not any(only_theirs in _sent(r) for r in _reports(world))
    theirs_after = _rows(world.runtime, other)
    assert {a: (r.refreshed_at, r.closed_at, r.reported_at) for a, r in theirs_after.items()} == {
        a: (r.refreshed_at, None, None) for a, r in theirs_before.items()
    }
    with world.runtime.db.tenant_session(other) as session:
        assert session.execute(select(WebhookEvent.payload)).scalar_one() == payload
    assert {world.tenant_id, other} <= set(tenants_to_report(world.runtime))


def test_oauth_connected_sites_report_through_the_api_gateway(
    settings: Settings, runtime: Runtime
) -> None:
    with oauth_world(settings, runtime, "io.tandem.pd-oauth") as world:
        assert world.consent().status_code in (200, 302)
        connection = world.connection("beta")
        assert "report:personal-data" in connection.scopes.split()
        beta_person = world.sandbox.control("GET", "/sites/beta")["humans"][0]
        alpha_person = world.sandbox.control("GET", "/sites/alpha")["humans"][0]
        with world.runtime.db.tenant_session(world.tenant_id) as session:
            note_accounts(session, "connection", connection.id, [beta_person])
            note_accounts(session, "installation", world.installation_id, [alpha_person])
        world.sandbox.close_account(beta_person)

        result = report_accounts(world.runtime, world.tenant_id)

        reports = {r["kind"]: r for r in world.sandbox.personal_data()["reports"]}
        assert set(_sent(reports["oauth"])) == {beta_person}
        assert set(_sent(reports["connect"])) == {alpha_person}
        assert reports["oauth"]["site"] is None  # the gateway root, not a site
        assert reports["oauth"]["answer"] == [{"accountId": beta_person, "status": "closed"}]
        assert result.closed == 1
        assert set(_rows(world.runtime, world.tenant_id)) == {alpha_person}


def test_the_clock_reports_weekly_and_the_job_fans_out_per_tenant(world: World) -> None:
    import clock

    registered: list[tuple[Any, dict[str, Any]]] = []

    class Recorder:
        def register(self, func: Any, **options: Any) -> None:
            registered.append((func, options))

    clock.register_schedule(Recorder())  # type: ignore[arg-type]
    weekly = [o for f, o in registered if f.__name__ == "report_personal_data_job"]
    assert weekly == [{"queue_name": "maintenance", "interval": 7 * 24 * 3600}]
    queue = Queue("maintenance", connection=world.runtime.redis)
    try:
        assert report_personal_data_job() >= 1
        assert f"personal-data-{world.tenant_id}" in queue.job_ids
    finally:
        clear_queues(world.runtime)


def test_a_batch_that_cannot_be_sent_is_retried_later_not_crashed(world: World) -> None:
    _issue_with_comments(world, _humans(world)[1])
    world.sandbox.set_personal_data(rate_limit_next=5, retry_after_s=3600)  # past any wait
    scheduled = ScheduledJobRegistry("maintenance", connection=world.runtime.redis)
    try:
        outcome = report_tenant_personal_data_job(str(world.tenant_id))
        assert outcome["attempt"] == 1
        assert f"personal-data-{world.tenant_id}-retry" in scheduled.get_job_ids()
        last = report_tenant_personal_data_job(str(world.tenant_id), attempt=ATTEMPTS)
        assert last["attempt"] == ATTEMPTS
    finally:
        world.sandbox.set_personal_data(rate_limit_next=0, retry_after_s=1)
        for job_id in scheduled.get_job_ids():
            scheduled.remove(job_id, delete_job=True)
        clear_queues(world.runtime)


def test_payload_accounts_and_redaction() -> None:
    ada, bot = "557058:ada", "5d9f0000aaaa"
    payload = {
        "user": {"accountId": ada, "displayName": "Ada", "emailAddress": "ada@x.example"},
        "issue": {"fields": {"reporter": {"accountId": bot, "accountType": "app"}}},
        "changelog": {
            "items": [
                {"field": "assignee", "from": ada, "fromString": "Ada", "to": None},
                {"field": "assignee", "tmpFromAccountId": "557058:old", "from": "557058:old"},
            ]
        },
        "comment": {"body": f"see [~accountid:{ada}]"},
    }
    assert payload_accounts(payload) == [ada, "557058:old"]
    erased = redact(payload, {ada}, erase=True)
    assert ada not in json.dumps(erased) and "Ada" not in json.dumps(erased)
    assert erased["user"] == {"accountId": ERASED, "displayName": "Former user"}
    assert erased["changelog"]["items"][0] == {
        "field": "assignee",
        "from": ERASED,
        "fromString": None,
        "to": None,
    }
    assert erased["issue"] == payload["issue"]
    refreshed = redact(payload, {ada}, erase=False)
    assert refreshed["user"] == {"accountId": ada}
    assert refreshed["comment"] == payload["comment"]
    assert refreshed["changelog"]["items"][0]["fromString"] is None
