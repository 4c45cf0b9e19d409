"""Backfill mirrors pre-existing issues once, even when interrupted and restarted; drift
reconciliation repairs a webhook that never arrived."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import func, select

from config import Settings
from models.integrations import Integration
from models.links import IssueLink
from runtime import Runtime
from sync.backfill import run_backfill_page, start_backfill
from sync.drift import check_drift
from tests.sync_world import World, sync_world

BACKFILL = {
    "name": "backfill",
    "direction": "one_way",
    "fields": ["summary"],
    "enabled": False,
}
DRIFT = {"name": "drift", "direction": "one_way", "fields": ["summary"]}


def _links(world: World) -> int:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        return session.execute(select(func.count()).select_from(IssueLink)).scalar_one()


def _state(world: World) -> dict:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        return dict(session.get(Integration, world.integration_id).backfill_state)


@pytest.fixture(scope="module")
def backfill_world(settings: Settings, runtime: Runtime) -> Iterator[World]:
    with sync_world(settings, runtime, "io.tandem.backfill", BACKFILL) as built:
        yield built


def test_backfill_is_resumable_and_mirrors_each_issue_once(backfill_world: World) -> None:
    world = backfill_world
    keys = [
        world.control("POST", "/issues", project="ALP", summary=f"old {n}")["key"]
        for n in range(60)
    ]
    world.settle()
    assert _links(world) == 0, "the integration was disabled: nothing mirrored yet"
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        session.get(Integration, world.integration_id).enabled = True
    start_backfill(world.runtime, world.tenant_id, world.integration_id)
    # The first page, then the run "dies"; the queued job picks up where it stopped.
    assert run_backfill_page(world.runtime, world.tenant_id, world.integration_id) is True
    first = _state(world)
    assert (first["done"], first["total"], first["status"]) == (50, 60, "running")
    assert _links(world) == 50
    world.settle()
    final = _state(world)
    assert (final["done"], final["total"], final["status"]) == (60, 60, "done")
    assert _links(world) == 60
    start_backfill(world.runtime, world.tenant_id, world.integration_id)  # again
    world.settle()
    assert _links(world) == 60, "a second backfill mirrors nothing twice"
    mirrors = {world.link_of(key).target_issue_key for key in keys}
    assert len(mirrors) == 60


@pytest.fixture(scope="module")
def drift_world(settings: Settings, runtime: Runtime) -> Iterator[World]:
    with sync_world(settings, runtime, "io.tandem.drift", DRIFT) as built:
        yield built


def _app(world: World, action: str) -> None:
    response = requests.post(
        f"{world.sandbox.url}/sandbox/{action}",
        json={"site": "alpha", "app_key": world.app_key},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_drift_repairs_a_webhook_that_never_came(drift_world: World) -> None:
    world = drift_world
    _app(world, "disable")  # Jira sends a disabled app no webhooks
    lost = world.control("POST", "/issues", project="ALP", summary="Nobody told Tandem")
    world.settle()
    _app(world, "enable")
    assert _links(world) == 0
    queued = check_drift(world.runtime, world.tenant_id, world.integration_id)
    assert queued >= 1
    world.settle()
    assert world.mirror_of(lost["key"])["fields"]["summary"] == "Nobody told Tandem"
