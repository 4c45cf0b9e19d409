"""The sync engine, one way between two projects of a Connect-installed sandbox site:
real HTTP (Tandem served, the sandbox delivering signed webhooks), a real RQ worker run
in-process, real PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select

from config import Settings
from models.links import IssueLink
from runtime import Runtime
from sync.markers import LINK_PROPERTY, SYNC_LABEL
from tests.sync_world import World, adf_text, sync_world

ONE_WAY = {
    "name": "ALP to ALPR",
    "direction": "one_way",
    "fields": ["summary", "description", "priority", "status", "comments", "attachments"],
    "on_comment_deleted": "delete_mirror",
    "on_issue_deleted": "label_mirror",
    "attachment_max_bytes": 2048,
}


@pytest.fixture(scope="module")
def world(settings: Settings, runtime: Runtime) -> Iterator[World]:
    with sync_world(settings, runtime, "io.tandem.sync-one-way", ONE_WAY) as built:
        yield built


def test_create_mirrors_once_with_markers(world: World) -> None:
    created = world.control(
        "POST", "/issues", project="ALP", summary="First mirror", priority="High"
    )
    world.settle()
    mirror = world.mirror_of(created["key"])
    assert mirror["fields"]["summary"] == "First mirror"
    assert mirror["fields"]["priority"]["name"] == "High"
    assert SYNC_LABEL in mirror["fields"]["labels"]
    assert mirror["key"].startswith("ALPR-")
    (attempt,) = world.attempts(created["key"])
    assert (attempt.action, attempt.outcome, attempt.error) == ("create", "ok", None)
    # Read the source, create the mirror with its link property in the same call.
    assert attempt.details["calls"]["create_issue"] == 1
    assert "set_property" not in attempt.details["calls"]
    prop = (
        world.client()
        .call("get_property", path_params={"key": mirror["key"], "property": LINK_PROPERTY})
        .json()
    )
    assert prop["value"]["source"] == created["key"]
    assert prop["value"]["integration"] == str(world.integration_id)


def test_edit_writes_only_what_changed(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Before")
    world.settle()
    world.control("PUT", f"/issues/{created['key']}", summary="After")
    world.settle()
    assert world.mirror_of(created["key"])["fields"]["summary"] == "After"
    update = world.attempts(created["key"])[-1]
    assert (update.action, update.outcome, update.details["changed"]) == (
        "update",
        "ok",
        ["summary"],
    )
    # The changelog says only the summary changed, and webhooks carry it as REST does:
    # the webhook body stands in for a read, so the edit is the only call.
    assert update.details["calls"] == {"edit_issue": 1}


def test_fields_outside_the_allow_list_never_travel(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Labels stay home")
    world.settle()
    before = len(world.attempts(created["key"]))
    world.control("PUT", f"/issues/{created['key']}", labels=["secret-label"])
    world.settle()
    mirror = world.mirror_of(created["key"])
    assert "secret-label" not in mirror["fields"]["labels"]
    later = world.attempts(created["key"])[before:]
    assert later and all(a.outcome == "skipped" for a in later)
    assert all("edit_issue" not in a.details["calls"] for a in later)


def test_a_description_edit_travels_and_costs_one_read(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Described")
    world.settle()
    world.control("PUT", f"/issues/{created['key']}", description="What it is about")
    world.settle()
    mirror = world.mirror_of(created["key"])
    assert adf_text(mirror["fields"]["description"]) == "What it is about"
    update = world.attempts(created["key"])[-1]
    assert (update.outcome, update.details["changed"]) == ("ok", ["description"])
    # Webhooks carry descriptions as wiki markup, so the source is read for the ADF.
    assert update.details["calls"] == {"get_issue": 1, "edit_issue": 1}


def test_the_issue_type_stays_home_when_not_in_the_allow_list(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="A task here")
    world.settle()
    before = len(world.attempts(created["key"]))
    world.control("PUT", f"/issues/{created['key']}", issuetype="Bug")
    world.settle()
    assert world.mirror_of(created["key"])["fields"]["issuetype"]["name"] == "Task"
    later = world.attempts(created["key"])[before:]
    assert later and all(a.outcome == "skipped" for a in later)
    assert all("edit_issue" not in a.details["calls"] for a in later)


def test_status_moves_through_a_multi_step_workflow(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Walk the workflow")
    world.settle()
    world.control("PUT", f"/issues/{created['key']}", status="Done")
    world.settle()
    assert world.mirror_of(created["key"])["fields"]["status"]["name"] == "Done"
    assert world.attempts(created["key"])[-1].outcome == "ok"


def test_a_repeated_delivery_changes_nothing(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Once only")
    world.settle()
    deliveries = requests.get(
        f"{world.sandbox.url}/sandbox/deliveries", params={"issue_key": created["key"]}, timeout=10
    ).json()
    for delivery in deliveries:
        requests.post(
            f"{world.sandbox.url}/sandbox/deliveries/{delivery['identifier']}/redeliver",
            timeout=10,
        )
    world.settle()
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        links = (
            session.execute(select(IssueLink).where(IssueLink.source_issue_key == created["key"]))
            .scalars()
            .all()
        )
    assert len(links) == 1
    assert [a.action for a in world.attempts(created["key"])].count("create") == 1


def test_comments_are_copied_with_attribution_edited_and_deleted(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Talk about it")
    world.settle()
    mirror_key = world.mirror_of(created["key"])["key"]
    comment = world.control("POST", f"/issues/{created['key']}/comments", body="Looks good to me")
    world.settle()
    (copy,) = world.comments(mirror_key)
    assert copy["text"].startswith("Looks good to me")
    assert f"mirrored by Tandem from {created['key']}" in copy["text"]

    world.control("PUT", f"/issues/{created['key']}/comments/{comment['id']}", body="Looks great")
    world.settle()
    (copy,) = world.comments(mirror_key)
    assert copy["text"].startswith("Looks great")

    world.control("POST", f"/issues/{mirror_key}/comments", body="Only on the mirror")
    world.settle()
    assert len(world.comments(created["key"])) == 1, "one-way: nothing travels back"

    world.control("DELETE", f"/issues/{created['key']}/comments/{comment['id']}")
    world.settle()
    assert [c["text"] for c in world.comments(mirror_key)] == ["Only on the mirror"]


def _attachments(world: World, key: str) -> dict[str, bytes]:
    client = world.client()
    issue = client.call(
        "get_issue", path_params={"key": key}, params={"fields": "attachment"}
    ).json()
    return {
        a["filename"]: client.call(
            "get_attachment_content", path_params={"id": str(a["id"])}, allow_redirects=True
        ).content
        for a in issue["fields"]["attachment"]
    }


def test_attachments_are_streamed_and_large_ones_skipped_with_a_note(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="With files")
    world.settle()
    mirror_key = world.mirror_of(created["key"])["key"]
    small = world.control(
        "POST",
        f"/issues/{created['key']}/attachments",
        filename="notes.txt",
        content="hello attachments",
    )
    world.control(
        "POST", f"/issues/{created['key']}/attachments", filename="huge.log", content="x" * 5000
    )
    world.settle()
    assert _attachments(world, mirror_key) == {"notes.txt": b"hello attachments"}
    notes = [c["text"] for c in world.comments(mirror_key)]
    assert any("huge.log" in text and "larger than the 2048-byte limit" in text for text in notes)
    skipped = [
        a
        for a in world.attempts(created["key"])
        if any("too large" in step for step in a.details.get("comments", []))
    ]
    assert skipped, "the skip is recorded in the sync attempt"

    world.control("DELETE", f"/issues/{created['key']}/attachments/{small['id']}")
    world.settle()
    assert _attachments(world, mirror_key) == {}


def test_deleting_the_source_labels_the_mirror(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Short-lived")
    world.settle()
    mirror_key = world.mirror_of(created["key"])["key"]
    world.control("DELETE", f"/issues/{created['key']}")
    world.settle()
    mirror = world.control("GET", f"/issues/{mirror_key}")
    assert "tandem-source-deleted" in mirror["fields"]["labels"]
    assert world.attempts(created["key"])[-1].action == "delete"


def test_known_status_and_cached_transitions_cost_only_the_transition(world: World) -> None:
    first = world.control("POST", "/issues", project="ALP", summary="Warm the cache")
    second = world.control("POST", "/issues", project="ALP", summary="Use the cache")
    world.settle()
    for created in (first, second):
        world.control("PUT", f"/issues/{created['key']}", status="In Progress")
        world.settle()
    moved = world.attempts(second["key"])[-1]
    assert moved.details["changed"] == ["status"]
    assert moved.details["calls"].get("transition") == 1
    assert "get_transitions" not in moved.details["calls"], moved.details["calls"]
    assert world.mirror_of(second["key"])["fields"]["status"]["name"] == "In Progress"


def test_a_first_walk_heads_for_the_status_category_not_back_to_the_start(
    world: World,
) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="First contact")
    world.settle()
    world.control("PUT", f"/issues/{created['key']}", status="In Progress")
    world.settle()
    # As on first contact with ALPR's workflow: nothing known about its statuses yet.
    site = world.sandbox.site_url("alpha")
    for key in world.runtime.redis.scan_iter(f"tandem:transitions:{site}:ALPR:*"):
        world.runtime.redis.delete(key)
    world.control("PUT", f"/issues/{created['key']}", status="Done")
    world.settle()
    assert world.mirror_of(created["key"])["fields"]["status"]["name"] == "Done"
    # Done is a "done" status on ALP: In Review (in progress) is nearer than To Do (new).
    moved = world.attempts(created["key"])[-1]
    assert moved.details["calls"]["transition"] == 2, moved.details["calls"]


def test_status_finds_its_way_when_the_first_transition_leads_back(world: World) -> None:
    # On ALPR (review workflow) the first way out of "In Progress" is back to "To Do".
    created = world.control("POST", "/issues", project="ALP", summary="Forward, not back")
    world.settle()
    world.control("PUT", f"/issues/{created['key']}", status="In Progress")
    world.settle()
    world.control("PUT", f"/issues/{created['key']}", status="Done")
    world.settle()
    assert world.mirror_of(created["key"])["fields"]["status"]["name"] == "Done"
    assert world.attempts(created["key"])[-1].outcome == "ok"
