"""Admin pages, integrations: the form's pickers are fed from Jira (the sandbox site's
projects, a project's statuses, the site's priorities and types); creating and editing
are validated, role-checked, CSRF-protected (dashboard) or context-JWT authenticated
(in Jira), audited; starting one runs its backfill, whose progress the list polls; no
page serves or changes another workspace's integration."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from config import Settings
from models.integrations import Integration
from models.links import IssueLink
from tests.admin_fixtures import AdminWorld, admin_world, field_errors, installation_end

OPTION = re.compile(r'<option value="([^"]*)"')


@pytest.fixture(scope="module")
def world(settings: Settings) -> Iterator[AdminWorld]:
    with admin_world(settings, "admin-integrations") as built:
        yield built


def form(world: AdminWorld, **values: Any) -> dict[str, Any]:
    end = installation_end(world)
    return {
        "name": "ALP to ALPR",
        "source": end,
        "source_project": "ALP",
        "target": end,
        "target_project": "ALPR",
        "direction": "one_way",
        "fields": ["summary", "status"],
        "on_issue_deleted": "ignore",
        "on_comment_deleted": "ignore",
        "attachment_mb": "5",
        "intent": "save",
        **values,
    }


def integrations(world: AdminWorld) -> list[Integration]:
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        return list(session.execute(select(Integration).order_by(Integration.created_at)).scalars())


def test_the_form_offers_the_sites_projects_and_values_jira_lists(world: AdminWorld) -> None:
    new = world.get("admin", "/integrations/new")
    assert new.status_code == 200
    assert new.headers["Cache-Control"] == "no-store"
    assert installation_end(world) in OPTION.findall(new.text)
    reloaded = world.post(
        "admin", "/integrations", form(world, intent="reload", source_project="", target_project="")
    )
    assert reloaded.status_code == 200
    assert {"ALP", "ALPR"} <= set(OPTION.findall(reloaded.text))  # the site's projects
    with_projects = world.post("admin", "/integrations", form(world, intent="reload"))
    page = with_projects.text
    # ALP's simple workflow on the source side, ALPR's review workflow as the choices.
    assert re.findall(r'name="map_status_from" value="([^"]+)"', page) == [
        "To Do",
        "In Progress",
        "Done",
    ]
    assert '<option value="In Review">' in page
    assert re.findall(r'name="map_priority_from" value="([^"]+)"', page) == [
        "High",
        "Medium",
        "Low",
    ]
    assert re.findall(r'name="map_issuetype_from" value="([^"]+)"', page) == ["Task", "Bug"]
    assert not integrations(world)  # reloading stores nothing


def project_calls(world: AdminWorld) -> int:
    counters = world.sandbox.control("GET", "/counters", app=world.app_key)
    return sum(row["calls"] for name, row in counters["by_endpoint"].items() if "project" in name)


def test_the_choices_are_cached_and_jira_down_is_said_next_to_the_field(
    world: AdminWorld,
) -> None:
    world.post("admin", "/integrations", form(world, intent="reload"))
    before = project_calls(world)
    again = world.post("admin", "/integrations", form(world, intent="reload"))
    assert again.status_code == 200 and project_calls(world) == before  # from the cache
    for key in world.runtime.redis.scan_iter(f"tandem:catalog:{world.tenant_id}:*"):
        world.runtime.redis.delete(key)
    world.sandbox.control("PUT", "/faults", {"rate_5xx": 1, "app": world.app_key})
    try:
        down = world.post("admin", "/integrations", form(world, intent="reload"))
        assert down.status_code == 200
        assert "Jira did not list the projects" in field_errors(down)["source_project"]
        refused = world.post("admin", "/integrations", form(world, name="While Jira is down"))
        assert refused.status_code == 400  # the projects cannot be checked: nothing stored
    finally:
        world.sandbox.control("DELETE", "/faults")
    assert not [i for i in integrations(world) if i.name == "While Jira is down"]


def test_create_stores_audits_and_lists_the_integration(world: AdminWorld) -> None:
    created = world.post(
        "admin",
        "/integrations",
        form(
            world,
            map_status_from=["To Do", "In Progress", "Done"],
            map_status_to=["", "In Review", ""],
            map_users_from=["557058:someone", ""],
            map_users_to=["557058:other", ""],
            jql="labels = customer",
        ),
    )
    assert created.status_code == 303, created.text
    assert created.headers["Location"] == "/admin/integrations?notice=integration-created"
    stored = integrations(world)[-1]
    assert stored.name == "ALP to ALPR" and not stored.enabled
    assert stored.config["mappings"] == {
        "status": {"In Progress": "In Review"},
        "users": {"557058:someone": "557058:other"},
    }
    assert stored.config["attachment_max_bytes"] == 5 * 1024 * 1024
    assert stored.config["jql"] == "labels = customer"
    event = world.audit("integration.created")[-1]
    assert event.subject == str(stored.id) and event.actor.startswith("account:")
    listed = world.get("viewer", "/integrations")
    assert listed.status_code == 200
    assert f'data-integration="{stored.id}"' in listed.text
    assert "New integration" not in listed.text  # a viewer is not offered what it may not do


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"name": ""}, "name", "name"),
        ({"fields": []}, "fields", "at least one field"),
        ({"source_project": "NOPE"}, "source_project", "not a project of that site"),
        ({"target_project": "ALP"}, "target_project", "must differ"),
        ({"source": "installation:not-a-uuid"}, "source", "choose the source site"),
        ({"source": f"connection:{uuid.uuid4()}"}, "source", "not one of this workspace"),
        ({"attachment_mb": "500"}, "attachment_mb", "0 to 100"),
        ({"direction": "sideways"}, "direction", "one way or both"),
        ({"map_users_from": ["557058:a"], "map_users_to": [""]}, "map_users", "target account"),
        ({"jql": "x" * 1001}, "jql", "too long"),
    ],
)
def test_bad_input_is_a_400_with_the_message_next_to_its_field(
    world: AdminWorld, change: dict[str, Any], field: str, words: str
) -> None:
    before = len(integrations(world))
    answer = world.post("admin", "/integrations", form(world, **change))
    assert answer.status_code == 400, answer.text
    errors = field_errors(answer)
    assert field in errors and words in errors[field], errors
    assert len(integrations(world)) == before


def test_edit_changes_the_rule_but_never_its_ends(world: AdminWorld) -> None:
    world.post("admin", "/integrations", form(world, name="To edit"))
    stored = integrations(world)[-1]
    page = world.get("admin", f"/integrations/{stored.id}")
    assert page.status_code == 200 and 'value="To edit"' in page.text
    other_end = f"connection:{uuid.uuid4()}"
    saved = world.post(
        "admin",
        f"/integrations/{stored.id}",
        form(
            world,
            name="Edited",
            direction="two_way",
            fields=["summary", "comments"],
            source=other_end,  # ignored: the ends come from the stored integration
            source_project="XYZ",
            attachment_mb="7",
        ),
    )
    assert saved.status_code == 303, saved.text
    after = integrations(world)[-1]
    assert (after.name, after.config["direction"], after.config["fields"]) == (
        "Edited",
        "two_way",
        ["summary", "comments"],
    )
    assert (after.source_project, after.source_installation_id) == ("ALP", world.installation_id)
    event = world.audit("integration.updated")[-1]
    assert event.subject == str(stored.id)
    assert set(event.details["changed"]) == {"name", "direction", "fields", "attachment_max_bytes"}
    bad = world.post("admin", f"/integrations/{stored.id}", form(world, name=""))
    assert bad.status_code == 400 and "name" in field_errors(bad)


def test_starting_an_integration_backfills_and_the_progress_is_polled(world: AdminWorld) -> None:
    for summary in ("Existing one", "Existing two"):
        world.sandbox.control("POST", "/sites/alpha/issues", {"project": "ALP", "summary": summary})
    world.post("admin", "/integrations", form(world, name="Backfilled"))
    stored = integrations(world)[-1]
    progress = world.get("viewer", f"/integrations/{stored.id}/backfill")
    assert progress.get_json() == {"status": "none", "done": 0, "total": None}
    started = world.post("admin", f"/integrations/{stored.id}/enabled", {"enabled": "yes"})
    assert started.status_code == 303
    running = world.get("viewer", f"/integrations/{stored.id}/backfill").get_json()
    assert running["status"] == "running"
    world.settle()
    done = world.get("viewer", f"/integrations/{stored.id}/backfill").get_json()
    assert done["status"] == "done" and done["done"] == done["total"] >= 2
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        mirrored = session.execute(
            select(IssueLink.source_issue_key).where(IssueLink.integration_id == stored.id)
        ).scalars()
        assert len(list(mirrored)) >= 2
    assert world.audit("integration.enabled")[-1].subject == str(stored.id)
    stopped = world.post("admin", f"/integrations/{stored.id}/enabled", {"enabled": "no"})
    assert stopped.status_code == 303 and not integrations(world)[-1].enabled
    assert world.post("admin", f"/integrations/{stored.id}/enabled", {}).status_code == 400


def test_writes_need_the_admin_role_and_the_csrf_token(world: AdminWorld) -> None:
    before = len(integrations(world))
    for role in ("viewer", "member"):
        refused = world.post(role, "/integrations", form(world))
        assert refused.status_code == 403, refused.text
    client, _ = world.dashboard("admin")
    no_token = client.post("/admin/integrations", data=form(world))
    assert no_token.status_code == 403 and "CSRF" in no_token.get_json()["message"]
    assert len(integrations(world)) == before
    anonymous = world.app.test_client().get("/admin/integrations")
    assert anonymous.status_code == 303 and anonymous.headers["Location"].startswith("/auth/login")


def test_no_page_serves_or_changes_another_workspaces_integration(
    world: AdminWorld, new_tenant
) -> None:
    world.post("admin", "/integrations", form(world, name="Ours only"))
    ours = integrations(world)[-1]
    theirs = new_tenant("Elsewhere")
    listed = world.get("owner", "/integrations", tenant=theirs)
    assert listed.status_code == 200 and "Ours only" not in listed.text
    assert world.get("owner", f"/integrations/{ours.id}", tenant=theirs).status_code == 404
    assert world.get("owner", f"/integrations/{ours.id}/backfill", tenant=theirs).status_code == 404
    changed = world.post("owner", f"/integrations/{ours.id}", form(world, name="x"), tenant=theirs)
    assert changed.status_code == 404
    enabled = world.post(
        "owner", f"/integrations/{ours.id}/enabled", {"enabled": "yes"}, tenant=theirs
    )
    assert enabled.status_code == 404
    # Our site is not theirs to use as an end.
    created = world.post("owner", "/integrations", form(world, name="Stolen end"), tenant=theirs)
    assert created.status_code == 400 and "source" in field_errors(created)
    assert integrations(world)[-1].name == "Ours only"


def test_inside_jira_a_jira_admin_with_the_admin_role_creates_one(world: AdminWorld) -> None:
    ada, grace = world.humans[0], world.humans[1]  # Ada administers the seeded site
    world.grant(ada, "admin")
    page = world.jira("GET", "/integrations/new", ada)
    assert page.status_code == 200, page.get_json()
    assert "connect-cdn.atl-paas.net/all.js" in page.text  # Atlassian's script, in Jira only
    assert "frame-ancestors" in page.headers["Content-Security-Policy"]
    assert "'none'" not in page.headers["Content-Security-Policy"].split("frame-ancestors")[1]
    assert "?jwt=" in page.text  # its form posts carry the context token on
    created = world.jira("POST", "/integrations", ada, form(world, name="From Jira"))
    assert created.status_code == 303, created.text
    assert created.headers["Location"].startswith("/connect/admin/integrations?")
    assert "jwt=" in created.headers["Location"]
    assert world.audit("integration.created")[-1].actor == f"jira:{ada}"
    world.grant(grace, "admin")  # a Tandem admin, but not a Jira administrator
    refused = world.jira("GET", "/integrations", grace)
    assert refused.status_code == 403 and "Jira administrator" in refused.get_json()["message"]
    forged = world.app.test_client().get("/connect/admin/integrations?jwt=x.y.z")
    assert forged.status_code == 401
