"""From an event to reconcile jobs: coalesced (one queued job per integration and issue)
and serialised (one running at a time; a change that arrives meanwhile re-runs it)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from redis.lock import Lock
from rq import Retry
from rq.job import Job, JobStatus
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.integrations import Integration
from models.links import IssueLink
from runtime import Runtime

QUEUE = "sync"
LOCK_SECONDS = 120
# Transient Jira errors: retry with growing back-off, then the attempt stays "failed".
RETRY = Retry(max=5, interval=[5, 15, 60, 300, 900])


def _key(kind: str, integration_id: uuid.UUID | str, side: str, issue_id: str) -> str:
    return f"tandem:{kind}:{integration_id}:{side}:{issue_id}"


def link_lock(runtime: Runtime, integration_id: uuid.UUID | str, side: str, issue_id: str) -> Lock:
    """The lock one reconcile of (side, issue) holds (see ``lock_subject``); clean-up takes
    it too, so no reconcile that started before sync was stopped writes after it."""
    return runtime.redis.lock(_key("lock", integration_id, side, issue_id), timeout=LOCK_SECONDS)


def job_id(integration_id: uuid.UUID | str, side: str, issue_id: str) -> str:
    return f"reconcile-{integration_id}-{side}-{issue_id}"


def integrations_for_event(
    session: Session, end_id: uuid.UUID, project_key: str | None, kind: str = "installation"
) -> list[tuple[uuid.UUID, str]]:
    """(integration, side) for every enabled integration this installation's (or, with
    ``kind="connection"``, this connected site's) project feeds: as its source, or as the
    target of a two-way integration."""
    if kind not in ("installation", "connection"):
        raise ValueError(f"unknown end kind {kind!r}")
    found: list[tuple[uuid.UUID, str]] = []
    for side in ("source", "target"):
        end = getattr(Integration, f"{side}_{kind}_id")
        project = getattr(Integration, f"{side}_project")
        query = select(Integration.id, Integration.config).where(
            Integration.enabled.is_(True),
            Integration.paused_reason.is_(None),
            end == end_id,
        )
        if project_key:
            query = query.where(project == project_key)
        for integration_id, config in session.execute(query):
            if side == "source" or config.get("direction") == "two_way":
                found.append((integration_id, side))
    return found


def lock_subject(
    runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID, side: str, issue_id: str
) -> tuple[str, str]:
    """The (side, issue) a reconcile locks: a linked target issue locks its source issue,
    so both directions of one link never run at once."""
    if side == "source":
        return side, issue_id
    with runtime.db.tenant_session(tenant_id) as session:
        source = session.execute(
            select(IssueLink.source_issue_id).where(
                IssueLink.integration_id == integration_id,
                IssueLink.target_issue_id == issue_id,
            )
        ).scalar_one_or_none()
    return ("source", source) if source else (side, issue_id)


COMMENT_TYPES = {"issue_commented", "issue_comment_edited", "issue_comment_deleted"}


def scopes_for(payload: dict[str, Any]) -> tuple[str, ...]:
    """What an event asks a reconcile to look at; () when another event covers it."""
    event = payload.get("webhookEvent", "")
    if event == "jira:issue_created":
        return ("attachments", "comments", "fields")
    if event == "jira:issue_deleted":
        return ("deleted",)
    if event == "jira:issue_updated":
        if payload.get("issue_event_type_name") in COMMENT_TYPES:
            return ()  # the comment_* event of the same change does the work
        items = (payload.get("changelog") or {}).get("items") or []
        changed = {str(item.get("field", "")).lower() for item in items}
        if changed == {"attachment"}:
            return ("attachments",)
        return ("attachments", "fields") if "attachment" in changed else ("fields",)
    if event.startswith("comment_"):
        return ("comments",)
    return ()  # attachment_* bodies name no issue; the issue_updated beside them does


# Keep the newest event body per issue: a coalesced job reconciles from the latest one.
_KEEP_NEWEST = """
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current)['timestamp'] > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', 3600)
return 1
"""


def changed_fields(event: dict[str, Any] | None) -> list[str]:
    """The fields an event says changed ("*" when it can't say: a creation, a read)."""
    if not event or event.get("webhookEvent") != "jira:issue_updated":
        return ["*"]
    items = (event.get("changelog") or {}).get("items")
    if not items:
        return ["*"]
    return sorted({str(item.get("fieldId") or item.get("field") or "*").lower() for item in items})


def note_change(
    runtime: Runtime,
    integration_id: uuid.UUID,
    issue_id: str,
    side: str = "source",
    scopes: tuple[str, ...] = ("fields",),
    event: dict[str, Any] | None = None,
) -> bool:
    """Add ``scopes`` to what (integration, side, issue) must look at (and keep ``event``,
    the webhook body, if it is the newest), in one round trip; False if a queued job
    will see it (the change is coalesced into that job), True if a run is needed."""
    dirty = _key("dirty", integration_id, side, issue_id)
    changed = _key("changed", integration_id, side, issue_id)
    with runtime.redis.pipeline(transaction=False) as pipeline:
        pipeline.sadd(dirty, *scopes).expire(dirty, 3600)
        pipeline.sadd(changed, *changed_fields(event)).expire(changed, 3600)
        if event and isinstance(event.get("timestamp"), int) and event.get("issue"):
            kept = {"timestamp": event["timestamp"], "issue": event["issue"]}
            pipeline.eval(
                _KEEP_NEWEST,
                1,
                _key("event", integration_id, side, issue_id),
                json.dumps(kept),
                event["timestamp"],
            )
        pipeline.hget(Job.key_for(job_id(integration_id, side, issue_id)), "status")
        status = pipeline.execute()[-1]
    return status is None or status.decode() != JobStatus.QUEUED.value


def request_reconcile(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    issue_id: str,
    side: str = "source",
    scopes: tuple[str, ...] = ("fields",),
    event: dict[str, Any] | None = None,
) -> bool:
    """``note_change``, then make sure one job will run; False if a job was already
    queued (the change is coalesced into it)."""
    if not note_change(runtime, integration_id, issue_id, side, scopes, event):
        return False
    enqueue_reconcile(runtime, tenant_id, integration_id, side, issue_id)
    return True


def enqueue_reconcile(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    side: str,
    issue_id: str,
    first_attempt: int = 1,
    delay: timedelta | None = None,
) -> None:
    """Queue the reconcile job of (integration, side, issue), now or after ``delay``;
    ``first_attempt`` numbers its first run (a run that failed elsewhere came before)."""
    from sync.jobs import reconcile_job  # the job module imports this one

    queue = runtime.queue(QUEUE)
    arguments = (reconcile_job, str(tenant_id), str(integration_id), issue_id, side)
    options: dict[str, Any] = {
        "first_attempt": first_attempt,
        "job_id": job_id(integration_id, side, issue_id),
        "retry": RETRY,
        "failure_ttl": 7 * 24 * 3600,
    }
    if delay is None:
        queue.enqueue(*arguments, **options)
    else:
        queue.enqueue_in(delay, *arguments, **options)


def run_serialised(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    side: str,
    issue_id: str,
    reconcile: Callable[[tuple[str, ...], dict[str, Any] | None], Any],
    hand_on: bool = True,
) -> Any:
    """Run ``reconcile(scopes, newest event)`` under a per-link lock; if a change arrived
    while running, run once more with it.

    A run that finds the lock taken leaves its (side, issue) with the holder and ends at
    once, instead of waiting: when the holder lets go it queues a job for every (side,
    issue) left with it, and for its own if a change came after its last look. With
    ``hand_on=False`` (backfill) a taken lock means the holder's run covers the issue.
    """
    subject = lock_subject(runtime, tenant_id, integration_id, side, issue_id)
    lock = link_lock(runtime, integration_id, *subject)
    waiting = _key("waiting", integration_id, *subject)
    me = f"{side}:{issue_id}"
    if not lock.acquire(blocking=False):
        if not hand_on:
            return "held"
        runtime.redis.pipeline().sadd(waiting, me).expire(waiting, 2 * LOCK_SECONDS).execute()
        if not lock.acquire(blocking=False):  # checked again: it may have been let go
            return "handed-on"
        runtime.redis.srem(waiting, me)
    dirty = _key("dirty", integration_id, side, issue_id)
    kept = _key("event", integration_id, side, issue_id)
    changed = _key("changed", integration_id, side, issue_id)
    succeeded = False
    try:
        result = None
        for _ in range(3):  # bounded: a busy issue goes back to the queue below
            with runtime.redis.pipeline() as pipeline:
                pipeline.smembers(dirty).delete(dirty).get(kept).delete(kept)
                members, _, event, _, fields, _ = (
                    pipeline.smembers(changed).delete(changed).execute()
                )
            scopes = tuple(sorted(m.decode() for m in members)) or ("fields",)
            latest = json.loads(event) if event else None
            if latest is not None:
                latest["changed"] = sorted(f.decode() for f in fields) or ["*"]
            try:
                result = reconcile(scopes, latest)
            except Exception:
                # Nothing asked for is dropped: the retry (or the next event) sees it all.
                with runtime.redis.pipeline() as pipeline:
                    pipeline.sadd(dirty, *scopes).expire(dirty, 3600)
                    pipeline.sadd(changed, "*").expire(changed, 3600).execute()
                raise
            if not runtime.redis.exists(dirty):
                break
        succeeded = True
        return result
    finally:
        lock.release()
        if hand_on:  # after a failure, RQ's retry (with its back-off) runs ours again
            _hand_on(runtime, tenant_id, integration_id, waiting, me, dirty if succeeded else None)


def _hand_on(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    waiting: str,
    me: str,
    dirty: str | None,
) -> None:
    """After letting go of a link's lock: queue the runs that were left with it, and ours
    again if a change came after our last look (``dirty``). A holder that died leaves its
    names until the lock expires; the next event or the drift check then takes them."""
    with runtime.redis.pipeline() as pipeline:  # MULTI: no name is read twice or lost
        pipeline.smembers(waiting).delete(waiting)
        if dirty:
            pipeline.exists(dirty)
        left, _, *mine_dirty = pipeline.execute()
    names = {name.decode() for name in left}
    if any(mine_dirty):
        names.add(me)
    for name in sorted(names):
        side, _, issue_id = name.partition(":")
        enqueue_reconcile(runtime, tenant_id, integration_id, side, issue_id)
