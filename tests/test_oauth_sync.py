"""Syncing with an OAuth-connected site, end to end over real HTTP: the installed site
alpha (Connect) and the site beta connected through OAuth. A one-way integration mirrors
alpha's issues onto beta; a two-way one also brings beta's changes back through Jira
dynamic webhooks; a revoked grant pauses both with the reason in plain words (one failed
attempt, no retries) and reconnecting resumes them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import select

from config import Settings
from models.connection_lifecycle import revoked_reason
from models.integration_config import create_integration
from models.integrations import Integration
from models.links import IssueLink
from models.webhook_events import WebhookEvent
from runtime import Runtime
from sync.connection_jobs import integration_saved
from sync.connection_webhooks import refresh_all_connection_webhooks
from sync.integrations import set_enabled
from tests.oauth_world import CLIENT_ID, OAuthWorld, oauth_world


@pytest.fixture(scope="module")
def world(settings: Settings, runtime: Runtime) -> Iterator[OAuthWorld]:
    with oauth_world(settings, runtime, "io.tandem.oauth-sync") as built:
        assert built.consent().status_code == 200
        connection_id = built.connection("beta").id
        alpha = {"kind": "installation", "id": str(built.installation_id)}
        beta = {"kind": "connection", "id": str(connection_id)}
        with built.runtime.db.tenant_session(built.tenant_id) as session:
            one_way = create_integration(
                session,
                {
                    "name": "ALP to beta",
                    "direction": "one_way",
                    "fields": ["summary", "priority"],
                    "source": {**alpha, "project": "ALP"},
                    "target": {**beta, "project": "BET"},
                    "enabled": True,
                },
            )
            two_way = create_integration(
                session,
                {
                    "name": "ALPR with beta",
                    "direction": "two_way",
                    "fields": ["summary", "priority"],
                    "source": {**alpha, "project": "ALPR"},
                    "target": {**beta, "project": "BETR"},
                    "enabled": True,
                },
            )
        for integration in (one_way, two_way):
            integration_saved(built.runtime, built.tenant_id, integration)
        built.settle()
        yield built


def link_of(world: OAuthWorld, key: str) -> IssueLink:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        return session.execute(
            select(IssueLink).where(IssueLink.source_issue_key == key)
        ).scalar_one()


def integrations(world: OAuthWorld) -> list[Integration]:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        return list(session.execute(select(Integration).order_by(Integration.name)).scalars())


def test_dynamic_webhooks_watch_the_projects_whose_changes_come_back(world: OAuthWorld) -> None:
    connection = world.connection("beta")
    hooks = [h for h in world.sandbox.control("GET", "/dynamic-webhooks") if h["app"] == CLIENT_ID]
    assert [h["id"] for h in hooks] == connection.webhook_ids
    (hook,) = hooks
    assert hook["url"] == f"{world.url}/oauth/webhooks/{connection.id}"
    assert hook["jqlFilter"] == connection.webhook_jql == 'project in ("BETR")'
    assert set(hook["events"]) >= {"jira:issue_created", "jira:issue_updated", "comment_created"}
    assert connection.webhooks_expire_at is not None


def test_an_issue_created_on_the_installed_site_is_mirrored_on_the_connected_site(
    world: OAuthWorld,
) -> None:
    created = world.control("alpha", "POST", "/issues", project="ALP", summary="Over the wire")
    world.settle()
    link = link_of(world, created["key"])
    mirror = world.control("beta", "GET", f"/issues/{link.target_issue_key}")
    assert mirror["key"].startswith("BET-")
    assert mirror["fields"]["summary"] == "Over the wire"
    (attempt,) = world.attempts(created["key"])
    assert (attempt.action, attempt.outcome, attempt.error) == ("create", "ok", None)
    counters = world.sandbox.counters(CLIENT_ID)
    assert counters["by_endpoint"]["POST /rest/api/3/issue"]["calls"] >= 1


def test_a_change_on_the_connected_site_travels_back_through_its_webhook(
    world: OAuthWorld,
) -> None:
    created = world.control("alpha", "POST", "/issues", project="ALPR", summary="Both ways")
    world.settle()
    mirror_key = link_of(world, created["key"]).target_issue_key
    assert mirror_key.startswith("BETR-")
    world.control("beta", "PUT", f"/issues/{mirror_key}", summary="Edited on beta")
    world.settle()
    back = world.control("alpha", "GET", f"/issues/{created['key']}")
    assert back["fields"]["summary"] == "Edited on beta"
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        received = session.execute(
            select(WebhookEvent).where(WebhookEvent.connection_id == world.connection("beta").id)
        ).scalars()
        statuses = {event.status for event in received}
    assert statuses == {"processed"}
    writes = [
        a for a in world.attempts(created["key"]) if a.outcome == "ok" and a.action == "update"
    ]
    assert len(writes) == 1, "one write back, and Tandem's own writes on beta did not echo"


def test_the_clock_renews_the_webhooks(world: OAuthWorld) -> None:
    before = world.connection("beta")
    done = refresh_all_connection_webhooks(world.runtime)
    assert done.get("refreshed", 0) >= 1, done
    after = world.connection("beta")
    assert after.webhook_ids == before.webhook_ids
    assert after.webhooks_expire_at >= before.webhooks_expire_at


def test_a_revoked_grant_pauses_with_the_reason_and_reconnecting_resumes(
    world: OAuthWorld,
) -> None:
    world.sandbox.revoke_grant(world.grant()["grant_id"])
    doomed = world.control("alpha", "POST", "/issues", project="ALP", summary="After revoke")
    world.settle()
    reason = revoked_reason(world.sandbox.site_url("beta"))
    (attempt,) = world.attempts(doomed["key"])
    assert (attempt.outcome, attempt.error) == ("failed", reason)
    assert [i.paused_reason for i in integrations(world)] == [reason, reason]
    assert world.connection("beta").status == "revoked"
    (audit,) = world.audits("connection.revoked")
    assert audit.details["site_url"] == world.sandbox.site_url("beta")
    sync = Queue("sync", connection=world.runtime.redis)
    assert ScheduledJobRegistry(queue=sync).count == 0, "not retried"
    assert FailedJobRegistry(queue=sync).count == 0, "recorded as an attempt, not a crash"
    world.settle()
    assert len(world.attempts(doomed["key"])) == 1
    skipped = world.control("alpha", "POST", "/issues", project="ALP", summary="While paused")
    world.settle()
    assert world.attempts(skipped["key"]) == [], "a paused integration is not reconciled"

    page = world.consent()
    assert page.status_code == 200 and "Reconnected" in page.text
    assert "Resumed 2 paused integration" in page.text
    assert [i.paused_reason for i in integrations(world)] == [None, None]
    world.settle()
    resumed = world.control("alpha", "POST", "/issues", project="ALP", summary="Back again")
    world.settle()
    mirror = world.control(
        "beta", "GET", f"/issues/{link_of(world, resumed['key']).target_issue_key}"
    )
    assert mirror["fields"]["summary"] == "Back again"

    created = world.control("alpha", "POST", "/issues", project="ALPR", summary="Two-way again")
    world.settle()
    mirror_key = link_of(world, created["key"]).target_issue_key
    world.control("beta", "PUT", f"/issues/{mirror_key}", priority="High")
    world.settle()
    back = world.control("alpha", "GET", f"/issues/{created['key']}")
    assert back["fields"]["priority"]["name"] == "High"


def test_disabling_and_enabling_moves_the_dynamic_webhooks(world: OAuthWorld) -> None:
    def ours() -> list[dict]:
        hooks = world.sandbox.control("GET", "/dynamic-webhooks")
        return [hook for hook in hooks if hook["app"] == CLIENT_ID]

    two_way = next(i for i in integrations(world) if i.config["direction"] == "two_way")
    set_enabled(world.runtime, world.tenant_id, two_way.id, False, actor="admin")
    world.settle()
    assert ours() == []
    assert world.connection("beta").webhook_ids == []
    set_enabled(world.runtime, world.tenant_id, two_way.id, True, actor="admin")
    world.settle()
    (hook,) = ours()
    assert hook["jqlFilter"] == 'project in ("BETR")'
    assert world.connection("beta").webhook_ids == [hook["id"]]
