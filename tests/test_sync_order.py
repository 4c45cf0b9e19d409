"""Late and out-of-order webhooks, two-way: Jira gives no order guarantee, so an issue's
events are run here in a chosen order (the real event job, then the real reconciles,
one event at a time); the mirror must end as it does for in-order delivery, and an event
older than what was already synced must write nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from config import Settings
from models.webhook_events import WebhookEvent
from runtime import Runtime
from sync.dispatch import QUEUE
from sync.events import handle_webhook_event
from sync.markers import DELETED_LABEL
from tests.sync_world import World, adf_text, sync_world

TWO_WAY = {
    "name": "ALP with ALPR, every field",
    "direction": "two_way",
    "fields": [
        "summary",
        "description",
        "priority",
        "issuetype",
        "status",
        "assignee",
        "comments",
    ],
    "on_issue_deleted": "label_mirror",
}
WRITES = ("create_issue", "edit_issue", "transition")
# Three edits of one issue, one webhook each; the last touches every field the first two did.
EDITS = (
    {"summary": "First edit", "priority": "High"},
    {"status": "In Progress", "issuetype": "Bug"},
    {"summary": "Last edit", "priority": "Low", "status": "Done", "issuetype": "Task"},
)
NAMED = ("priority", "status", "issuetype")


@pytest.fixture(scope="module")
def world(settings: Settings, runtime: Runtime) -> Iterator[World]:
    with sync_world(settings, runtime, "io.tandem.sync-order", TWO_WAY) as built:
        yield built


def pending(world: World, *keys: str) -> list[WebhookEvent]:
    """The inbox rows not yet processed for these issues, oldest change first."""
    assert world.sandbox.wait_for_deliveries(20)["idle"]
    with world.runtime.db.tenant_session(world.tenant_id) as session:
        rows = session.execute(select(WebhookEvent).where(WebhookEvent.status == "pending"))
        found = [e for e in rows.scalars() if (e.payload.get("issue") or {}).get("key") in keys]
        return sorted(found, key=lambda e: e.payload["timestamp"])


def pending_events(world: World, *keys: str) -> list[uuid.UUID]:
    return [event.id for event in pending(world, *keys)]


def run_one_by_one(world: World, event_ids: list[uuid.UUID]) -> None:
    """Run each event's job, then every reconcile it asked for, before the next event (the
    queued copies of these jobs later find them done)."""
    sync = Queue(QUEUE, connection=world.runtime.redis)
    for event_id in event_ids:
        assert handle_webhook_event(world.runtime, world.tenant_id, event_id) == "processed"
        SimpleWorker([sync], connection=world.runtime.redis).work(burst=True)


def writes(world: World, key: str, after: int = 0) -> list[dict[str, int]]:
    """The Jira writes of each attempt for ``key`` after the first ``after`` attempts."""
    return [
        {n: c for n, c in a.details["calls"].items() if n in WRITES}
        for a in world.attempts(key)[after:]
    ]


def fields_of(world: World, key: str) -> dict[str, str]:
    fields = world.control("GET", f"/issues/{key}")["fields"]
    return {"summary": fields["summary"]} | {name: fields[name]["name"] for name in NAMED}


def edited_issue(world: World, summary: str) -> tuple[str, str, list[uuid.UUID]]:
    """An issue with a mirror, then EDITS on it: (key, mirror key, its unprocessed events)."""
    created = world.control("POST", "/issues", project="ALP", summary=summary)
    world.settle()
    mirror_key = world.mirror_of(created["key"])["key"]
    for edit in EDITS:
        world.control("PUT", f"/issues/{created['key']}", **edit)
    events = pending_events(world, created["key"])
    assert len(events) == len(EDITS)
    return created["key"], mirror_key, events


def test_reversed_and_late_events_end_as_in_order_and_stale_ones_write_nothing(
    world: World,
) -> None:
    in_order, in_order_mirror, events = edited_issue(world, "Delivered in order")
    run_one_by_one(world, events)
    world.settle()
    reverse, reverse_mirror, reverse_events = edited_issue(world, "Delivered backwards")
    before = len(world.attempts(reverse))
    run_one_by_one(world, list(reversed(reverse_events)))
    world.settle()

    expected = {"summary": "Last edit", "priority": "Low", "status": "Done", "issuetype": "Task"}
    assert fields_of(world, in_order) == fields_of(world, in_order_mirror) == expected
    assert fields_of(world, reverse) == fields_of(world, reverse_mirror) == expected
    newest, *stale = writes(world, reverse, before)
    # The newest event carries the whole end state: one edit, then the review workflow's
    # walk To Do -> In Progress -> In Review -> Done; the two older events find it synced.
    assert newest == {"edit_issue": 1, "transition": 3}, newest
    assert stale == [{}, {}], stale


def test_a_late_event_after_a_read_of_both_sides_writes_nothing(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Before")
    world.settle()
    key, mirror_key = created["key"], world.mirror_of(created["key"])["key"]
    world.control("PUT", f"/issues/{mirror_key}", description="Noted on the mirror")
    world.control("PUT", f"/issues/{key}", summary="Stale")
    world.control("PUT", f"/issues/{key}", summary="Fresh")
    on_mirror, stale, fresh = pending_events(world, key, mirror_key)
    before = len(world.attempts(key))
    # The mirror's description is not in webhooks as REST has it: both sides are read,
    # after every edit, so that run syncs the source's summary "Fresh" too.
    run_one_by_one(world, [on_mirror])
    assert world.control("GET", f"/issues/{mirror_key}")["fields"]["summary"] == "Fresh"
    description = world.control("GET", f"/issues/{key}")["fields"]["description"]
    assert adf_text(description) == "Noted on the mirror"
    for late_event in (stale, fresh):
        run_one_by_one(world, [late_event])
        assert world.control("GET", f"/issues/{mirror_key}")["fields"]["summary"] == "Fresh"
    world.settle()
    first, *late = writes(world, key, before)
    assert first == {"edit_issue": 2}, first  # the description back, the summary forward
    assert late == [{}, {}], late


def test_a_deleted_issues_comment_events_before_or_after_its_deletion_skip(
    world: World,
) -> None:
    for order in ("comments first", "deletion first"):
        created = world.control("POST", "/issues", project="ALP", summary=order)
        world.control("POST", f"/issues/{created['key']}/comments", body="Goes with it")
        world.settle()
        key, mirror_key = created["key"], world.mirror_of(created["key"])["key"]
        before = len(world.attempts(key))
        world.control("DELETE", f"/issues/{key}")
        named = {event.event: event.id for event in pending(world, key)}
        assert named.keys() == {"jira:issue_deleted", "comment_deleted"}, named
        deletion, comment = named["jira:issue_deleted"], named["comment_deleted"]
        run_one_by_one(
            world, [comment, deletion] if order == "comments first" else [deletion, comment]
        )
        world.settle()
        assert DELETED_LABEL in world.control("GET", f"/issues/{mirror_key}")["fields"]["labels"]
        outcomes = sorted((a.outcome, a.error) for a in world.attempts(key)[before:])
        assert outcomes == [("ok", None), ("skipped", "the issue was deleted")], (order, outcomes)
