"""Failures are recorded, permanent ones are not retried forever, and 429 Retry-After is
honoured (the sandbox sees no request before the time it asked for)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from config import Settings
from runtime import Runtime
from tests.sync_world import World, sync_world

FAILING = {
    "name": "to nowhere",
    "direction": "one_way",
    "fields": ["summary", "status"],
    "mappings": {"status": {"Done": "Nowhere"}},
}


@pytest.fixture(scope="module")
def world(settings: Settings, runtime: Runtime) -> Iterator[World]:
    with sync_world(settings, runtime, "io.tandem.sync-failures", FAILING) as built:
        yield built


def test_a_permanent_error_is_recorded_with_its_reason_and_not_retried(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Doomed transition")
    world.settle()
    world.control("PUT", f"/issues/{created['key']}", status="Done")
    world.settle()
    failed = [a for a in world.attempts(created["key"]) if a.outcome == "failed"]
    assert len(failed) == 1
    assert "no workflow path" in failed[0].error and "Nowhere" in failed[0].error
    sync = Queue("sync", connection=world.runtime.redis)
    assert ScheduledJobRegistry(queue=sync).count == 0, "not scheduled for a retry"
    assert FailedJobRegistry(queue=sync).count == 0, "recorded as an attempt, not a crash"
    world.settle()
    assert len([a for a in world.attempts(created["key"]) if a.outcome == "failed"]) == 1


def test_retry_after_is_honoured_under_429s(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Busy Jira")
    world.settle()
    world.sandbox.reset_counters()
    world.sandbox.set_faults(rate_429=0.3, retry_after_s=1, app=world.app_key, seed=7)
    try:
        for n in range(3):
            world.control("PUT", f"/issues/{created['key']}", summary=f"Busy {n}")
            world.settle()
    finally:
        world.sandbox.clear_faults()
    counters = world.sandbox.counters(world.app_key)
    throttled = sum(
        count
        for endpoint in counters["by_endpoint"].values()
        for status, count in endpoint.get("statuses", {}).items()
        if str(status) == "429"
    )
    assert throttled > 0, counters
    assert counters["violations"] == [], counters
    assert world.mirror_of(created["key"])["fields"]["summary"] == "Busy 2"


def test_a_transient_failure_in_the_event_job_hands_over_to_a_retrying_job(world: World) -> None:
    created = world.control("POST", "/issues", project="ALP", summary="Flaky Jira")
    world.settle()
    sync = Queue("sync", connection=world.runtime.redis)
    world.sandbox.set_faults(rate_5xx=1.0, status_5xx=500, app=world.app_key, seed=3)
    try:
        world.control("PUT", f"/issues/{created['key']}", summary="Flaky 1")
        world.settle()
    finally:
        world.sandbox.clear_faults()
    retrying = [a for a in world.attempts(created["key"]) if a.outcome == "retrying"]
    assert [a.attempt for a in retrying] == [1], "the event job's own try, recorded"
    scheduled = ScheduledJobRegistry(queue=sync).get_job_ids()
    assert len(scheduled) == 1, "a reconcile job with back-off takes over"
    sync.enqueue_job(Job.fetch(scheduled[0], connection=world.runtime.redis))  # its time came
    world.settle()
    assert world.mirror_of(created["key"])["fields"]["summary"] == "Flaky 1"
    last = world.attempts(created["key"])[-1]
    assert (last.outcome, last.attempt) == ("ok", 2)
