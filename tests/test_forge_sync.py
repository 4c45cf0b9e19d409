"""Tandem behind Forge, with the sandbox's Forge platform over real HTTP: the installed
event makes a workspace, product events feed the inbox and the engine, Jira calls carry
the app system token, and background work waits for a token instead of failing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select

from config import Settings
from models.audit import AuditEvent
from models.deletion_requests import DeletionRequest
from models.forge_installations import ForgeInstallation
from models.installations import Installation
from models.sync_attempts import SyncAttempt
from models.webhook_events import WebhookEvent
from runtime import Runtime
from sync.dispatch import enqueue_reconcile
from tests.forge_world import APP_ID, SITE, ForgeWorld, forge_sync_world

APP_KEY = "io.tandem.forge-sync"
ONE_WAY = {
    "name": "ALP to ALPR",
    "direction": "one_way",
    "fields": ["summary", "priority", "comments"],
}


@pytest.fixture
def world(settings: Settings, runtime: Runtime) -> Iterator[ForgeWorld]:
    with forge_sync_world(settings, runtime, APP_KEY, ONE_WAY) as built:
        yield built


def test_the_installed_event_makes_a_forge_only_workspace(world: ForgeWorld) -> None:
    forge = world.forge_row()
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        installation = session.get_one(Installation, forge.installation_id)
        actions = session.execute(select(AuditEvent.action)).scalars().all()
    assert forge.forge_installation_id == world.forge_installation_id
    assert forge.cloud_id == world.sandbox.cloud_id(SITE)
    assert forge.api_base_url == world.sandbox.gateway_url(SITE)
    assert forge.system_token is not None and forge.token_expires_at is not None
    assert installation.client_key is None and installation.shared_secret is None
    assert installation.base_url == world.sandbox.site_url(SITE)  # asked of serverInfo
    assert "installation.installed" in actions
    assert world.runtime.db.directory_lookup("cloud_id", forge.cloud_id) == world.tenant_id


def test_a_change_syncs_through_forge_events_and_the_system_token(world: ForgeWorld) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Born behind Forge")
    world.settle()
    mirror = world.mirror_of(created["key"])
    assert mirror["fields"]["summary"] == "Born behind Forge"
    world.control("POST", f"/issues/{created['key']}/comments", body="Said via Forge")
    world.settle()
    assert [c["text"].split("\n")[0] for c in world.comments(mirror["key"])] == ["Said via Forge"]
    deliveries = world.sandbox.control("GET", "/deliveries")
    assert deliveries and {d["kind"] for d in deliveries} == {"forge"}
    assert all(d["state"] == "delivered" for d in deliveries)
    # Forge names no delivery id: a redelivered event is a duplicate by its body.
    again = world.sandbox.control("POST", f"/deliveries/{deliveries[0]['identifier']}/redeliver")
    assert again["status"] == 200
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        rows = session.execute(select(func.count()).select_from(WebhookEvent)).scalar_one()
    assert rows == len(deliveries)
    counters = world.sandbox.counters(APP_KEY)  # the Forge app is the Connect app
    assert counters["by_endpoint"]["POST /rest/api/3/issue"]["calls"] == 1


def _reconcile_waits_then_runs(world: ForgeWorld, key: str) -> None:
    link = world.link_of(key)
    enqueue_reconcile(
        world.runtime, world.tenant_id, world.integration_id, "source", link.source_issue_id
    )
    world.settle()
    registry = ScheduledJobRegistry(queue=Queue("sync", connection=world.runtime.redis))
    assert registry.count == 1, "the reconcile waits, queued for later"
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        last = (
            session.execute(select(SyncAttempt).order_by(SyncAttempt.id.desc())).scalars().first()
        )
    assert last is not None and last.outcome == "retrying"
    assert "waiting for a Forge app token" in (last.error or "")
    assert world.sandbox.forge_scheduled(SITE, APP_ID)["status"] == 204
    assert registry.count == 0, "the scheduled trigger's token woke it"
    world.settle()
    assert world.attempts(key)[-1].outcome in ("ok", "skipped")


def test_background_work_waits_for_a_token_instead_of_failing(world: ForgeWorld) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Waits well")
    world.settle()
    # Jira stops taking the held token: the first call gets 401, the token is dropped.
    world.sandbox.control("POST", "/forge/tokens/revoke", {"site": SITE, "app_id": APP_ID})
    _reconcile_waits_then_runs(world, created["key"])
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        failed = session.execute(
            select(func.count()).where(SyncAttempt.outcome == "failed")
        ).scalar_one()
    assert failed == 0
    assert world.forge_row().system_token is not None  # the trigger brought a new one


def test_an_expired_token_waits_too(world: ForgeWorld) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Old token")
    world.settle()
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        forge = session.execute(select(ForgeInstallation)).scalar_one()
        forge.token_expires_at = func.now()
    world.runtime.forge_sites.forget(world.forge_installation_id)
    world.sandbox.control("POST", "/forge/tokens/revoke", {"site": SITE, "app_id": APP_ID})
    _reconcile_waits_then_runs(world, created["key"])


def test_the_ui_modules_call_the_remote(world: ForgeWorld) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Shown in Forge")
    other = world.control("POST", "/issues", project="ALP", summary="Not asked about")
    world.settle()
    mirror = world.mirror_of(created["key"])

    def invoke(**extra: str) -> dict:
        call = {"site": SITE, "app_id": APP_ID, "module": "tandem-issue-panel", **extra}
        return world.sandbox.control("POST", "/forge/invoke", call)

    panel = invoke(path="/forge/issue-panel", issue=created["key"])
    assert panel["status"] == 200, panel
    (shown,) = panel["body"]["mirrors"]
    assert shown["other_key"] == mirror["key"], shown
    # The issue is the one Forge names in the token, never the one the query names.
    asked = invoke(path=f"/forge/issue-panel?issueKey={other['key']}", issue=created["key"])
    assert asked["body"]["mirrors"] == panel["body"]["mirrors"]
    nameless = invoke(path="/forge/issue-panel")
    assert nameless["status"] == 400 and "names no issue" in nameless["body"]["message"]
    admin = world.sandbox.control(
        "POST",
        "/forge/invoke",
        {"site": SITE, "app_id": APP_ID, "module": "tandem-admin", "path": "/forge/admin"},
    )
    assert admin["status"] == 200, admin
    (integration,) = admin["body"]["integrations"]
    assert integration["name"] == ONE_WAY["name"] and integration["enabled"] is True
    assert integration["source"].endswith(" ALP"), integration


def test_uninstalling_schedules_the_workspace_deletion(world: ForgeWorld) -> None:
    result = world.sandbox.control("POST", "/forge/uninstall", {"site": SITE, "app_id": APP_ID})
    assert result["status"] == 204
    forge = world.forge_row()
    assert forge.status == "uninstalled" and forge.system_token is None
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        installation = session.get_one(Installation, forge.installation_id)
        requests = session.execute(select(DeletionRequest)).scalars().all()
    assert installation.status == "uninstalled"
    assert [r.status for r in requests] == ["scheduled"]
