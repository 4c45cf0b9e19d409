"""Acceptance 3: a Connect workspace with an integration and links installs the Forge app
and keeps syncing the same issues, now through Forge triggers and the app system token,
without a duplicate; its rows and keys are as they were (one DEK more: the Forge
installation's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from config import Settings
from jira.forge_tokens import site_credentials
from jira.signing import BearerCredentials, ConnectCredentials
from models.audit import AuditEvent
from models.forge_installations import ForgeInstallation
from models.installations import Installation
from runtime import Runtime
from tests.forge_world import SITE, ForgeWorld, forge_sync_world, install_forge

APP_KEY = "io.tandem.forge-move"
ONE_WAY = {"name": "ALP to ALPR", "direction": "one_way", "fields": ["summary", "comments"]}
# What must not change when a workspace moves to Forge (every column of every row).
KEPT = {
    "installations": "SELECT * FROM installations ORDER BY id",
    "integrations": "SELECT * FROM integrations ORDER BY id",
    "issue_links": "SELECT * FROM issue_links ORDER BY id",
    "comment_links": "SELECT * FROM comment_links ORDER BY id",
    "directory": "SELECT kind, key FROM tenant_directory ORDER BY kind, key",
    "data_keys": "SELECT id, owner_kind, owner_id, kek_id, wrapped FROM data_keys ORDER BY id",
}


@pytest.fixture
def world(settings: Settings, runtime: Runtime) -> Iterator[ForgeWorld]:
    with forge_sync_world(settings, runtime, APP_KEY, ONE_WAY, through="connect") as built:
        yield built


def snapshot(world: ForgeWorld) -> dict[str, list[tuple[Any, ...]]]:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        return {
            name: [tuple(row) for row in session.execute(text(sql))] for name, sql in KEPT.items()
        }


def mirrors(world: ForgeWorld) -> list[str]:
    issues = world.sandbox.control("GET", f"/sites/{SITE}/issues")
    return sorted(i["key"] for i in issues if i["key"].startswith("ALPR-"))


def deliveries(world: ForgeWorld) -> list[dict[str, Any]]:
    return world.sandbox.control("GET", "/deliveries")


def test_a_connect_workspace_moves_to_forge_and_keeps_syncing(world: ForgeWorld) -> None:
    first = world.control("POST", "/issues", project="ALP", summary="Before the move")
    second = world.control("POST", "/issues", project="ALP", summary="Also before")
    world.settle()
    world.control("POST", f"/issues/{first['key']}/comments", body="Said through Connect")
    world.settle()
    assert {d["kind"] for d in deliveries(world)} == {"connect"}
    linked = mirrors(world)
    assert len(linked) == 2
    before = snapshot(world)
    assert before["issue_links"] and before["comment_links"]

    install_forge(world.sandbox, world.url, APP_KEY)  # type: ignore[arg-type]

    after = snapshot(world)
    added_keys = set(after.pop("data_keys")) - set(before["data_keys"])
    kept_keys = before.pop("data_keys")
    added_dirs = set(after.pop("directory")) - set(before.pop("directory"))
    assert after == before, "installations, integrations and links are untouched"
    assert set(kept_keys) <= set(snapshot(world)["data_keys"]), "every DEK is as it was"
    assert [row[1] for row in added_keys] == ["forge_installation"]
    assert {kind for kind, _ in added_dirs} == {"forge_installation"}
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        forge = session.execute(select(ForgeInstallation)).scalar_one()
        installation = session.get_one(Installation, forge.installation_id)
        actions = session.execute(select(AuditEvent.action)).scalars().all()
        assert isinstance(site_credentials(world.runtime, session, installation), BearerCredentials)
    assert (
        world.runtime.db.directory_lookup("forge_installation", forge.forge_installation_id)
        == world.tenant_id
    )
    assert installation.client_key is not None, "the Connect part stays during the move"
    assert "installation.forge_adopted" in actions

    moved_at = len(deliveries(world))
    world.control("PUT", f"/issues/{first['key']}", summary="After the move")
    world.control("POST", f"/issues/{second['key']}/comments", body="Said through Forge")
    world.settle()
    assert world.mirror_of(first["key"])["fields"]["summary"] == "After the move"
    comments = [
        c["text"].split("\n")[0]
        for c in world.comments(world.link_of(second["key"]).target_issue_key)
    ]
    assert comments == ["Said through Forge"]
    assert mirrors(world) == linked, "the same mirrors: no duplicate"
    assert {d["kind"] for d in deliveries(world)[moved_at:]} == {"forge"}, "events come once"
    pairs = [row[:6] for row in snapshot(world)["issue_links"]]  # id .. target key
    assert pairs == [row[:6] for row in after["issue_links"]], "the same links, synced on"


def test_both_paths_work_during_the_move(world: ForgeWorld) -> None:
    install_forge(world.sandbox, world.url, APP_KEY)  # type: ignore[arg-type]
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        forge = session.execute(select(ForgeInstallation)).scalar_one()
        forge.token_expires_at = None
        forge.system_token = None  # no valid Forge token: the Connect secret stands in
        installation = session.get_one(Installation, forge.installation_id)
        assert isinstance(
            site_credentials(world.runtime, session, installation), ConnectCredentials
        )
    created = world.control("POST", "/issues", project="ALP", summary="Either way")
    world.settle()
    assert world.mirror_of(created["key"])["fields"]["summary"] == "Either way"
    # The Connect app's own calls (its sharedSecret, JWT) are still accepted.
    assert world.client().call("get_issue", path_params={"key": created["key"]}).ok
