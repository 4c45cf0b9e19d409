"""One reconcile per link at a time: a run that finds the link busy hands itself to the
holder and ends at once; the holder queues what was left with it when it lets go."""

from __future__ import annotations

import uuid

import pytest
from rq import Queue

from runtime import Runtime
from sync.dispatch import QUEUE, _key, job_id, request_reconcile, run_serialised


@pytest.fixture
def queue(runtime: Runtime) -> Queue:
    queue = Queue(QUEUE, connection=runtime.redis)
    queue.empty()
    return queue


def test_a_run_that_finds_the_link_busy_is_handed_to_the_holder(
    runtime: Runtime, queue: Queue
) -> None:
    tenant, integration = uuid.uuid4(), uuid.uuid4()
    seen: list[str] = []

    def holder(scopes, event):
        seen.append("holder")
        inner = run_serialised(runtime, tenant, integration, "source", "10", lambda s, e: 1 / 0)
        seen.append(inner)  # the second run did not wait and did not reconcile
        return "done"

    assert run_serialised(runtime, tenant, integration, "source", "10", holder) == "done"
    assert seen == ["holder", "handed-on"]
    assert queue.job_ids == [job_id(integration, "source", "10")], "queued when let go"
    assert not runtime.redis.exists(_key("waiting", integration, "source", "10"))


def test_a_change_after_the_last_look_queues_the_holder_again(
    runtime: Runtime, queue: Queue
) -> None:
    tenant, integration = uuid.uuid4(), uuid.uuid4()
    rounds: list[tuple[str, ...]] = []

    def busy(scopes, event):
        rounds.append(scopes)  # every round, another change comes in
        runtime.redis.sadd(_key("dirty", integration, "source", "11"), "comments")

    run_serialised(runtime, tenant, integration, "source", "11", busy)
    assert len(rounds) == 3, "bounded rounds in one job"
    assert queue.job_ids == [job_id(integration, "source", "11")]


def test_a_failed_run_leaves_its_own_retry_to_rq(runtime: Runtime, queue: Queue) -> None:
    tenant, integration = uuid.uuid4(), uuid.uuid4()
    request_reconcile(runtime, tenant, integration, "12", scopes=("fields",))
    queue.empty()

    def failing(scopes, event):
        raise RuntimeError("jira is down")

    with pytest.raises(RuntimeError):
        run_serialised(runtime, tenant, integration, "source", "12", failing)
    assert queue.job_ids == [], "no immediate re-run that would skip the back-off"
    assert runtime.redis.smembers(_key("dirty", integration, "source", "12")) == {b"fields"}


def test_backfill_skips_an_issue_an_event_is_reconciling(runtime: Runtime, queue: Queue) -> None:
    tenant, integration = uuid.uuid4(), uuid.uuid4()

    def holder(scopes, event):
        return run_serialised(
            runtime, tenant, integration, "source", "13", lambda s, e: 1 / 0, hand_on=False
        )

    assert run_serialised(runtime, tenant, integration, "source", "13", holder) == "held"
    assert queue.job_ids == []
