"""Disconnect & clean up over HTTP and on uninstall, in the two-site world of
tests/cleanup_world.py plus another workspace (Tandem installed on gamma, syncing there):
the JSON endpoints start and poll a run of the caller's own workspace only; uninstall
stops all sync at once, cleans the connected site (never calling the installed one, which
no longer accepts Tandem), revokes the grant, destroys the key and schedules deletion; a
re-install within the grace period cancels the deletion and resurrects nothing; the other
workspace is untouched throughout."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from compliance.cleanup import run_cleanup
from compliance.cleanup_runs import active_key
from compliance.cleanup_scope import UNINSTALLED
from compliance.uninstall import restart_uninstall_cleanups
from config import Settings
from models.connections import Connection, create_connection
from models.deletion_requests import GRACE_PERIOD, scheduled_deletion
from models.installations import Installation, create_installation
from models.integration_config import create_integration
from models.integrations import Integration
from models.sync_attempts import SyncAttempt
from models.tenants import Tenant
from runtime import Runtime
from sync.dispatch import enqueue_reconcile
from tests.cleanup_world import CleanupWorld, assert_clean, cleanup_world, marks, totals
from tests.support.connect_tokens import secret_token

APP_KEY = "io.tandem.cleanup-uninstall"


@dataclass
class Other:
    """Another workspace: Tandem installed on gamma, mirroring GAM to GAMR."""

    tenant_id: uuid.UUID
    client_key: str
    integration_id: uuid.UUID


@pytest.fixture(scope="module")
def world(settings: Settings, runtime: Runtime) -> Iterator[CleanupWorld]:
    with cleanup_world(settings, runtime, APP_KEY, pairs=6, other_pairs=2) as built:
        yield built


@pytest.fixture(scope="module")
def other(world: CleanupWorld) -> Other:
    installed = world.oauth.sandbox.install("gamma", f"{world.oauth.url}/atlassian-connect.json")
    assert installed["installed"], installed
    tenant_id = world.runtime.db.directory_lookup("connect_client_key", installed["clientKey"])
    assert tenant_id is not None and tenant_id != world.tenant_id
    with world.runtime.db.tenant_session(tenant_id) as session:
        end = {"kind": "installation", "id": str(session.execute(select(Installation.id)).scalar())}
        integration = create_integration(
            session,
            {
                "name": "GAM to GAMR",
                "direction": "one_way",
                "fields": ["summary"],
                "source": {**end, "project": "GAM"},
                "target": {**end, "project": "GAMR"},
                "enabled": True,
            },
        )
    for index in range(2):
        world.control("gamma", "POST", "/issues", project="GAM", summary=f"Gamma {index}")
    world.settle()
    return Other(tenant_id, installed["clientKey"], integration.id)


def call(
    world: CleanupWorld, client_key: str, site: str, method: str, path: str, **body: Any
) -> requests.Response:
    """A Connect request from an installation (HS256 with its sharedSecret, qsh)."""
    secret = world.oauth.sandbox.shared_secret(site, APP_KEY)
    token = secret_token(secret, client_key, method, path)
    return requests.request(
        method,
        f"{world.oauth.url}{path}",
        json=body or None,
        headers={"Authorization": f"JWT {token}"},
        timeout=10,
    )


def gamma_issues(world: CleanupWorld) -> list[dict[str, Any]]:
    return world.issues("gamma")


def test_the_endpoints_start_and_poll_a_run_of_their_own_workspace_only(
    world: CleanupWorld, other: Other
) -> None:
    alpha = world.oauth.client_key
    workspace = {"scope": "workspace", "dry_run": True}
    started = call(world, alpha, "alpha", "POST", "/connect/cleanup", **workspace)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    assert started.headers["Location"] == started.json()["status_url"]
    busy = call(world, alpha, "alpha", "POST", "/connect/cleanup", **workspace)
    assert busy.status_code == 409 and busy.json()["run_id"] == run_id
    path = f"/connect/cleanup/{run_id}"
    assert call(world, alpha, "alpha", "GET", path).json()["status"] == "queued"
    world.run_jobs()
    polled = call(world, alpha, "alpha", "GET", path)
    assert polled.status_code == 200 and polled.headers["Cache-Control"] == "no-store"
    body = polled.json()
    assert (body["status"], body["done"], body["total"], body["dry_run"]) == (
        "finished",
        8,
        8,
        True,
    )
    assert totals(body["planned"]) == marks(world.snapshot()) and body["removed"] == {}
    assert "tenant" not in body

    assert call(world, other.client_key, "gamma", "GET", path).status_code == 404
    assert call(world, alpha, "alpha", "GET", "/connect/cleanup/not-a-run").status_code == 404
    foreign = {"scope": "integration", "integration_id": str(other.integration_id)}
    refused = call(world, alpha, "alpha", "POST", "/connect/cleanup", **foreign, dry_run=True)
    assert refused.status_code == 404
    for bad in (
        {"scope": "workspace"},
        {"scope": "workspace", "dry_run": "yes"},
        {"scope": "integration", "dry_run": True},
        {"scope": "workspace", "integration_id": str(world.two_way), "dry_run": True},
        {"scope": "everything", "dry_run": True},
    ):
        answer = call(world, alpha, "alpha", "POST", "/connect/cleanup", **bad)
        assert answer.status_code == 400 and "invalid clean-up request" in answer.text, bad
    anonymous = requests.post(f"{world.oauth.url}/connect/cleanup", json={}, timeout=10)
    assert anonymous.status_code == 401


def test_uninstall_stops_sync_cleans_the_connected_site_only_and_a_reinstall_resurrects_nothing(
    world: CleanupWorld, other: Other
) -> None:
    runtime, tenant = world.runtime, world.tenant_id
    beta_issue = next(i for i in world.issues("beta") if i["key"] == "BET-1")
    enqueue_reconcile(runtime, tenant, world.two_way, "target", beta_issue["id"])  # waits
    before, gamma_before = world.snapshot(), gamma_issues(world)
    connection = world.oauth.connection("beta")

    answer = world.oauth.sandbox.control(
        "POST", "/uninstall", {"site": "alpha", "app_key": APP_KEY}
    )
    assert answer["uninstalled"], answer
    with runtime.db.tenant_session(tenant) as session:  # at once, before any job ran
        assert {i.enabled for i in session.execute(select(Integration)).scalars()} == {False}
        assert session.execute(select(Installation.status)).scalar_one() == "uninstalled"
        deletion = scheduled_deletion(session)
        assert deletion is not None
        remaining = deletion.delete_after - datetime.now(UTC)
        assert GRACE_PERIOD - timedelta(minutes=1) < remaining <= GRACE_PERIOD
    run_id = runtime.redis.get(active_key(tenant)).decode()
    assert (world.view(run_id)["status"], world.view(run_id)["cause"]) == ("queued", "uninstall")

    world.settle()
    run = world.view(run_id)
    alpha_url = world.oauth.sandbox.site_url("alpha")
    assert run["status"] == "finished" and run["failed"] == 0
    assert run["unreachable"] == [{"site": alpha_url, "reason": UNINSTALLED}]
    assert alpha_url not in run["calls"] and run["calls"][world.connection_site] > 0
    assert set(run["removed"]) == {world.connection_site}
    assert totals(run["removed"]) == marks({"beta": before["beta"]})
    assert_clean(world, {"beta": before["beta"]})
    assert world.issues("alpha") == before["alpha"], "the installed site is never called"
    (gone,) = run["disconnected"]
    assert (gone["connection"], gone["grant"], gone["key_destroyed"]) == (
        str(connection.id),
        "revoked",
        True,
    )
    assert world.oauth.connection("beta").status == "disconnected"
    assert world.oauth.grant_or_none("beta") is None
    with runtime.db.tenant_session(tenant) as session:
        skipped = session.execute(
            select(SyncAttempt.outcome, SyncAttempt.error).order_by(SyncAttempt.id.desc())
        ).first()
    assert skipped == ("skipped", "the integration is disabled or paused")
    assert [e.action for e in world.oauth.audits("workspace.sync_stopped")] == [
        "workspace.sync_stopped"
    ]

    assert gamma_issues(world) == gamma_before, "another workspace is untouched"
    with runtime.db.tenant_session(other.tenant_id) as session:
        assert session.get(Integration, other.integration_id).enabled
        assert scheduled_deletion(session) is None
        assert session.execute(select(Tenant.status)).scalar_one() == "active"

    reinstalled = world.oauth.sandbox.install("alpha", f"{world.oauth.url}/atlassian-connect.json")
    assert reinstalled["installed"], reinstalled
    with runtime.db.tenant_session(tenant) as session:
        assert scheduled_deletion(session) is None
        assert session.execute(select(Tenant.status)).scalar_one() == "active"
        assert session.execute(select(Installation.status)).scalar_one() == "installed"
        assert {i.enabled for i in session.execute(select(Integration)).scalars()} == {False}
    assert world.oauth.connection("beta").status == "disconnected"
    (event,) = world.oauth.audits("installation.reinstalled")
    assert event.details["deletion_cancelled"] is True


def test_an_uninstalled_workspace_whose_clean_up_never_started_gets_it_from_the_clock(
    runtime: Runtime, new_tenant
) -> None:
    tenant = new_tenant("Redis was down")
    with runtime.db.tenant_session(tenant) as session:
        installation = create_installation(
            session, runtime.keys, f"client-{tenant}", "https://gone.example", "s" * 32
        )
        installation.status = "uninstalled"
        connection = create_connection(
            session, runtime.keys, f"cloud-{tenant}", "https://b.example"
        )
    assert tenant in restart_uninstall_cleanups(runtime)
    run_id = runtime.redis.get(active_key(tenant)).decode()
    assert tenant not in restart_uninstall_cleanups(runtime), "one run at a time"
    run = run_cleanup(runtime, run_id)
    assert (run["status"], run["cause"], run["total"]) == ("finished", "uninstall", 0)
    assert [(d["connection"], d["grant"]) for d in run["disconnected"]] == [
        (str(connection.id), "none")
    ]
    with runtime.db.tenant_session(tenant) as session:
        assert session.get(Connection, connection.id).status == "disconnected"
    assert tenant not in restart_uninstall_cleanups(runtime), "nothing left to disconnect"
