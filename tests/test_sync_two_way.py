"""Two-way sync between two projects: changes travel both ways, Tandem's own writes never
echo back, and when both sides changed a field the newest change wins and is audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from config import Settings
from runtime import Runtime
from tests.sync_world import World, adf_text, sync_world

TWO_WAY = {
    "name": "ALP with ALPR",
    "direction": "two_way",
    "fields": ["summary", "priority", "issuetype", "status", "comments", "assignee"],
}


@pytest.fixture(scope="module")
def world(settings: Settings, runtime: Runtime) -> Iterator[World]:
    with sync_world(settings, runtime, "io.tandem.sync-two-way", TWO_WAY) as built:
        yield built


def writes(world: World, key: str, after: int = 0) -> int:
    """How many Jira writes the attempts for ``key`` made (after the first ``after``)."""
    names = ("create_issue", "edit_issue", "transition")
    return sum(
        count
        for attempt in world.attempts(key)[after:]
        for name, count in attempt.details["calls"].items()
        if name in names
    )


def test_a_change_on_the_mirror_travels_back_once(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Round trip")
    world.settle()
    mirror = world.mirror_of(created["key"])
    before = len(world.attempts(created["key"]))
    world.control("PUT", f"/issues/{mirror['key']}", summary="Edited on the mirror")
    world.settle()
    assert world.control("GET", f"/issues/{created['key']}")["fields"]["summary"] == (
        "Edited on the mirror"
    )
    assert writes(world, created["key"], before) == 1, "one write, no echo"


def test_an_issue_created_on_the_target_side_is_mirrored_back(world: World) -> None:
    created = world.control("POST", "/issues", project="ALPR", summary="Born on ALPR")
    world.settle()
    origin = world.mirror_of(created["key"])
    assert origin["key"].startswith("ALP-")
    assert origin["fields"]["summary"] == "Born on ALPR"
    link = world.link_of(created["key"])
    assert (link.source_issue_key, link.target_issue_key) == (origin["key"], created["key"])
    total_links = [world.link_of(origin["key"]).id]
    assert total_links == [link.id], "mirroring back did not start a loop"


def test_both_sides_changed_newest_wins_and_is_audited(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Contested")
    world.settle()
    mirror = world.mirror_of(created["key"])
    world.control("PUT", f"/issues/{created['key']}", summary="Source says")
    world.control("PUT", f"/issues/{mirror['key']}", summary="Target says, later")
    world.settle()
    source = world.control("GET", f"/issues/{created['key']}")["fields"]["summary"]
    target = world.control("GET", f"/issues/{mirror['key']}")["fields"]["summary"]
    assert source == target == "Target says, later"
    conflicts = [a for a in world.attempts(created["key"]) if a.details.get("conflicts")]
    assert conflicts and conflicts[0].details["conflicts"] == ["summary"]


def test_comments_travel_both_ways_without_ping_pong(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Chatty")
    world.settle()
    mirror_key = world.mirror_of(created["key"])["key"]
    world.control("POST", f"/issues/{created['key']}/comments", body="From the source")
    world.control("POST", f"/issues/{mirror_key}/comments", body="From the mirror")
    world.settle()
    source = sorted(c["text"].split("\n")[0] for c in world.comments(created["key"]))
    target = sorted(c["text"].split("\n")[0] for c in world.comments(mirror_key))
    assert source == target == ["From the mirror", "From the source"]
    world.settle()
    assert len(world.comments(created["key"])) == len(world.comments(mirror_key)) == 2


def test_a_mirrored_comment_causes_no_reconcile_of_its_own(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Quiet copies")
    world.settle()
    before = len(world.attempts(created["key"]))
    world.control("POST", f"/issues/{created['key']}/comments", body="Copied once")
    world.settle()
    later = world.attempts(created["key"])[before:]
    # The copy's comment_created names no "user": its author tells it is Tandem's own.
    assert [(a.details["side"], a.outcome) for a in later] == [("source", "ok")]


def test_a_current_webhook_body_saves_the_read(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Cheap edits")
    world.settle()
    before = len(world.attempts(created["key"]))
    world.control("PUT", f"/issues/{created['key']}", priority="Low")
    world.settle()
    (update,) = [a for a in world.attempts(created["key"])[before:] if a.outcome == "ok"]
    # The source side comes from the webhook; only the other side is read (two-way).
    assert update.details["calls"] == {"get_issue": 1, "edit_issue": 1}
    assert world.mirror_of(created["key"])["fields"]["priority"]["name"] == "Low"


def test_assignee_is_the_same_account_on_the_same_site(world: World) -> None:
    sites = requests.get(f"{world.sandbox.url}/sandbox/sites", timeout=10).json()
    person = sites[0]["humans"][0]
    created = world.control("POST", "/issues", project="ALP", summary="Assigned")
    world.settle()
    world.control("PUT", f"/issues/{created['key']}", assignee=person)
    world.settle()
    mirror = world.mirror_of(created["key"])
    assert mirror["fields"]["assignee"]["accountId"] == person


def test_the_issue_type_travels_back_and_the_description_stays_home(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Typed", issuetype="Bug")
    world.settle()
    mirror = world.mirror_of(created["key"])
    assert mirror["fields"]["issuetype"]["name"] == "Bug"
    before = len(world.attempts(created["key"]))
    world.control("PUT", f"/issues/{mirror['key']}", issuetype="Task")
    world.settle()
    assert world.control("GET", f"/issues/{created['key']}")["fields"]["issuetype"]["name"] == (
        "Task"
    )
    assert writes(world, created["key"], before) == 1, "one write, no echo"

    before = len(world.attempts(created["key"]))
    world.control("PUT", f"/issues/{created['key']}", description="Only here")
    world.control("PUT", f"/issues/{mirror['key']}", description="Only there")
    world.settle()
    source = world.control("GET", f"/issues/{created['key']}")["fields"]["description"]
    target = world.control("GET", f"/issues/{mirror['key']}")["fields"]["description"]
    assert (adf_text(source), adf_text(target)) == ("Only here", "Only there")
    later = world.attempts(created["key"])[before:]
    assert later and writes(world, created["key"], before) == 0
