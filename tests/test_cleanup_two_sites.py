"""Disconnect & clean up between two sandbox sites (alpha through Connect, beta through
OAuth), after a real sync of PAIRS issues with comments on both sides: the dry run counts
what the real run removes; the real run, in a real worker process killed half-way and
resumed by another, leaves no sync label, link property or attribution on either site and
every other byte of every comment as it was; a second run changes nothing. A workspace run
then cleans the other integration too, revokes the grant and destroys the connection's
key; a new consent connects the site again with a new key and resumes nothing."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from compliance.cleanup_jobs import resume_stalled, start_cleanup
from compliance.cleanup_markers import KINDS
from compliance.cleanup_runs import WORKSPACE, Scope, lease_held
from config import Settings
from jira.errors import AuthorizationError
from jira.meter import CallMeter
from jira.oauth_tokens import access_token_for
from keys.data_keys import DataKeyGone
from keys.envelope import SealContext
from models.audit import AuditEvent
from models.data_keys import DataKeyRecord
from models.integrations import Integration
from runtime import Runtime
from sync.sites import connection_client
from tests.cleanup_world import (
    CleanupWorld,
    assert_clean,
    assert_copies_equal_originals,
    cleanup_world,
    marks,
    totals,
)
from tests.oauth_world import CLIENT_ID
from tests.support.processes import Process, logs, procfile_command, settings_env, wait_until

APP_KEY = "io.tandem.cleanup-two-sites"
PAIRS = 50  # issues in the two-way integration, half born on each site (plus their mirrors)
TWO_WAY_PROJECTS = ("ALP", "BET")
OTHER_PROJECTS = ("ALPR", "BETR")
NOTHING = dict.fromkeys(KINDS, 0)


@pytest.fixture(scope="module")
def world(settings: Settings, runtime: Runtime) -> Iterator[CleanupWorld]:
    with cleanup_world(settings, runtime, APP_KEY, PAIRS) as built:
        yield built


def only(snapshot: dict[str, list[dict[str, Any]]], projects: tuple[str, ...]) -> dict:
    return {
        site: [i for i in issues if i["fields"]["project"]["key"] in projects]
        for site, issues in snapshot.items()
    }


def audit_actions(world: CleanupWorld, subject: str) -> list[AuditEvent]:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        return list(
            session.execute(
                select(AuditEvent).where(AuditEvent.subject == subject).order_by(AuditEvent.id)
            ).scalars()
        )


def worker(world: CleanupWorld) -> Process:
    """The Procfile's worker, configured like this world's Tandem."""
    return Process("worker", procfile_command("worker"), settings_env(world.runtime.settings))


def kill(process: Process) -> None:
    os.killpg(process.popen.pid, signal.SIGKILL)
    process.popen.wait()


def test_a_run_killed_half_way_resumes_and_removes_exactly_what_the_dry_run_counted(
    world: CleanupWorld,
) -> None:
    before = world.snapshot()
    two_way, other = only(before, TWO_WAY_PROJECTS), only(before, OTHER_PROJECTS)
    assert sum(len(issues) for issues in two_way.values()) == 2 * PAIRS
    expected = marks(two_way)
    assert expected["labels"] == expected["properties"] == PAIRS
    assert expected["attributions"] > PAIRS  # comments from both sides were copied
    scope = Scope("integration", world.two_way)

    dry_id, _ = start_cleanup(world.runtime, world.tenant_id, scope, dry_run=True, actor="admin")
    world.run_jobs()
    dry = world.view(dry_id)
    assert (dry["status"], dry["done"], dry["total"]) == ("finished", PAIRS, PAIRS)
    assert totals(dry["planned"]) == expected and set(dry["planned"]) == {
        world.oauth.sandbox.site_url("alpha"),
        world.connection_site,
    }
    assert world.snapshot() == before, "a dry run writes nothing"

    run_id, _ = start_cleanup(
        world.runtime, world.tenant_id, scope, dry_run=False, actor="admin", lease_seconds=2
    )
    first = worker(world)
    try:
        assert wait_until(lambda: world.view(run_id)["done"] >= PAIRS // 2, 60, 0.01), logs([first])
    finally:
        kill(first)
    halfway = world.view(run_id)
    assert halfway["status"] == "running" and 0 < halfway["done"] < PAIRS, halfway
    assert 0 < marks(only(world.snapshot(), TWO_WAY_PROJECTS))["labels"] < PAIRS

    assert wait_until(lambda: not lease_held(world.runtime.redis, run_id), 10)
    assert resume_stalled(world.runtime) == [run_id]  # what the clock does every minute
    assert resume_stalled(world.runtime) == [], "queued once"
    second = worker(world)
    try:
        assert wait_until(lambda: world.view(run_id)["status"] == "finished", 60), logs([second])
    finally:
        second.stop(timeout=5)
    world.settle()  # the webhooks of our own edits: the disabled integration adds nothing

    done = world.view(run_id)
    assert (done["done"], done["total"], done["failed"], done["attempts"]) == (PAIRS, PAIRS, 0, 2)
    assert done["removed"] == dry["planned"] == done["planned"]
    assert done["disconnected"] == [], "the connection still serves the other integration"
    after = assert_clean(world, two_way)
    assert only(world.snapshot(), OTHER_PROJECTS) == other, "the other integration is untouched"
    assert_copies_equal_originals(two_way, after)
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        enabled = {i.id: i.enabled for i in session.execute(select(Integration)).scalars()}
    assert enabled == {world.two_way: False, world.other: True}
    assert world.oauth.connection("beta").status == "active"

    events = audit_actions(world, run_id)
    assert [e.action for e in events] == ["cleanup.started", "cleanup.resumed", "cleanup.finished"]
    assert events[-1].details["counts"] == done["removed"]
    assert [e.action for e in audit_actions(world, str(world.two_way))][-1:] == [
        "integration.disabled"
    ]

    again_id, _ = start_cleanup(world.runtime, world.tenant_id, scope, dry_run=False, actor="admin")
    world.run_jobs()
    again = world.view(again_id)
    assert again["status"] == "finished" and totals(again["removed"]) == NOTHING
    assert only(world.snapshot(), TWO_WAY_PROJECTS) == after, "a second run changes nothing"


def test_a_workspace_run_cleans_everything_then_revokes_the_grant_and_destroys_the_key(
    world: CleanupWorld,
) -> None:
    before = world.snapshot()
    connection = world.oauth.connection("beta")
    sealed, key_id = connection.refresh_token, connection.data_key_id
    assert sealed is not None and world.sandbox_hooks()

    dry_id, _ = start_cleanup(world.runtime, world.tenant_id, WORKSPACE, True, "admin")
    world.run_jobs()
    dry = world.view(dry_id)
    assert totals(dry["planned"]) == marks(before) and marks(before)["labels"] > 0
    run_id, _ = start_cleanup(world.runtime, world.tenant_id, WORKSPACE, False, "admin")
    world.run_jobs()
    world.settle()
    run = world.view(run_id)
    assert run["status"] == "finished" and run["removed"] == dry["planned"] == run["planned"]
    assert_clean(world, before)

    (disconnected,) = run["disconnected"]
    assert disconnected == {
        "connection": str(connection.id),
        "site": world.connection_site,
        "webhooks_deleted": 1,
        "grant": "revoked",
        "key_destroyed": True,
    }
    assert "Connected apps" in run["admin_action"]
    gone = world.oauth.connection("beta")
    assert (gone.status, gone.access_token, gone.refresh_token) == ("disconnected", None, None)
    assert "disconnected" in (gone.status_reason or "")
    assert world.oauth.grant_or_none("beta") is None
    (grant,) = [g for g in world.oauth.sandbox.grants(CLIENT_ID) if "beta" in g["sites"]]
    assert grant["revoked_reason"] == "revoked by the app"
    assert world.sandbox_hooks() == []
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        record = session.get(DataKeyRecord, key_id)
        assert record is not None and record.wrapped is None and record.destroyed_at
        context = SealContext(world.tenant_id, "connections", str(connection.id), "refresh_token")
        with pytest.raises(DataKeyGone):
            world.runtime.keys.open(session, sealed, context)
        with pytest.raises(AuthorizationError, match="disconnected"):
            connection_client(world.runtime, session, connection.id, CallMeter())
        enabled = {i.enabled for i in session.execute(select(Integration)).scalars()}
    assert enabled == {False}
    (event,) = [e for e in audit_actions(world, str(connection.id)) if "disconnected" in e.action]
    assert event.details["grant"] == "revoked" and event.details["data_key_destroyed"] is True

    # A new consent is the only way back: a new key, and no integration resumes by itself.
    assert world.oauth.consent().status_code == 200
    back = world.oauth.connection("beta")
    assert back.id == connection.id and back.status == "active" and back.data_key_id != key_id
    assert access_token_for(world.runtime, world.tenant_id, back.id)
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        assert {i.enabled for i in session.execute(select(Integration)).scalars()} == {False}
