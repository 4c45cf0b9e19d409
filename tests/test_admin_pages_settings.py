"""Admin pages, settings: retention windows, logs on or off, log sealing and the contact
address are shown and saved together (one transaction: a refused field changes none),
each change audited; bad input is a 400 next to its field; only admins save; a page
never shows another workspace's settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from compliance.workspace_settings import read_settings
from config import Settings
from models.tenants import Tenant
from tests.admin_fixtures import AdminWorld, admin_world, field_errors


@pytest.fixture(scope="module")
def world(settings: Settings) -> Iterator[AdminWorld]:
    with admin_world(settings, "admin-settings") as built:
        yield built


def posted(**values: Any) -> dict[str, Any]:
    return {
        "raw_response_days": "7",
        "sync_log_days": "30",
        "sync_logs_enabled": "yes",
        "contact_email": "ops@example.com",
        **values,
    }


def test_the_page_shows_the_workspace_settings(world: AdminWorld) -> None:
    page = world.get("viewer", "/settings")
    assert page.status_code == 200
    current = read_settings(world.runtime, world.tenant_id)
    assert f'value="{current.sync_log_days}"' in page.text
    assert "<fieldset disabled>" in page.text  # a viewer reads, and is offered no save
    assert "settings-save" not in page.text


def test_saving_stores_every_setting_and_audits_the_changes(world: AdminWorld) -> None:
    saved = world.post("admin", "/settings", posted(seal_sync_logs="yes"))
    assert saved.status_code == 303, saved.text
    assert saved.headers["Location"] == "/admin/settings?notice=settings-saved"
    now = read_settings(world.runtime, world.tenant_id)
    assert (now.raw_response_days, now.sync_log_days, now.sync_logs_enabled) == (7, 30, True)
    assert now.seal_sync_logs and now.contact_email == "ops@example.com"
    assert world.runtime.log_policies.get(world.tenant_id).seals_logs  # seen at once here
    retention = world.audit("retention.updated")[-1]
    assert retention.details["raw_response_days"] == 7 and retention.details["seal_sync_logs"]
    contact = world.audit("workspace.contact_email")[-1]
    assert contact.details == {"change": "set"}  # never the address itself
    off = world.post("admin", "/settings", posted(sync_logs_enabled="", contact_email=""))
    assert off.status_code == 303
    now = read_settings(world.runtime, world.tenant_id)
    assert not now.sync_logs_enabled and not now.seal_sync_logs and now.contact_email == ""
    assert world.audit("workspace.contact_email")[-1].details == {"change": "cleared"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"raw_response_days": "31"}, "raw_response_days"),
        ({"raw_response_days": "-1"}, "raw_response_days"),
        ({"sync_log_days": "0"}, "sync_log_days"),
        ({"sync_log_days": "91"}, "sync_log_days"),
        ({"sync_log_days": "ninety"}, "sync_log_days"),
        ({"contact_email": "not an address"}, "contact_email"),
        ({"contact_email": "a@" + "b" * 300 + ".com"}, "contact_email"),
    ],
)
def test_a_refused_field_is_a_400_next_to_it_and_changes_nothing(
    world: AdminWorld, change: dict[str, str], field: str
) -> None:
    world.post("admin", "/settings", posted())
    before = read_settings(world.runtime, world.tenant_id)
    mixed = {**posted(sync_log_days="3", contact_email="changed@example.com"), **change}
    answer = world.post("admin", "/settings", mixed)
    assert answer.status_code == 400, answer.text
    assert field in field_errors(answer), field_errors(answer)
    assert read_settings(world.runtime, world.tenant_id) == before  # not even the valid ones


def test_only_admins_save_and_nobody_sees_another_workspaces(world: AdminWorld, new_tenant) -> None:
    for role in ("viewer", "member"):
        assert world.post(role, "/settings", posted()).status_code == 403
    world.post("admin", "/settings", posted(contact_email="ours@example.com"))
    theirs = new_tenant("Elsewhere")
    page = world.get("admin", "/settings", tenant=theirs)
    assert page.status_code == 200 and "ours@example.com" not in page.text
    world.post("admin", "/settings", posted(contact_email="theirs@example.com"), tenant=theirs)
    assert read_settings(world.runtime, world.tenant_id).contact_email == "ours@example.com"
    with world.runtime.db.tenant_session(theirs) as session:
        assert session.get(Tenant, theirs).contact_email == "theirs@example.com"


def test_inside_jira_a_jira_admin_with_the_admin_role_saves(world: AdminWorld) -> None:
    ada = world.humans[0]
    world.grant(ada, "admin")
    saved = world.jira("POST", "/settings", ada, posted(sync_log_days="14"))
    assert saved.status_code == 303, saved.text
    assert read_settings(world.runtime, world.tenant_id).sync_log_days == 14
    assert world.audit("retention.updated")[-1].actor == f"jira:{ada}"
