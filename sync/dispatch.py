"""From an event to reconcile jobs: coalesced (one queued job per integration and issue)
and serialised (one running at a time; a change that arrives meanwhile re-runs it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.integrations import Integration
from runtime import Runtime

QUEUE = "sync"
LOCK_SECONDS = 120
# Transient Jira errors: retry with growing back-off, then the attempt stays "failed".
RETRY = Retry(max=5, interval=[5, 15, 60, 300, 900])


def _key(kind: str, integration_id: uuid.UUID | str, issue_id: str) -> str:
    return f"tandem:{kind}:{integration_id}:{issue_id}"


def job_id(integration_id: uuid.UUID | str, issue_id: str) -> str:
    return f"reconcile-{integration_id}-{issue_id}"


def integrations_for_event(
    session: Session, installation_id: uuid.UUID, project_key: str | None
) -> list[uuid.UUID]:
    """Enabled integrations whose source is this installation (and project, if known)."""
    query = select(Integration.id).where(
        Integration.enabled.is_(True),
        Integration.paused_reason.is_(None),
        Integration.source_installation_id == installation_id,
    )
    if project_key:
        query = query.where(Integration.source_project == project_key)
    return list(session.execute(query).scalars())


def request_reconcile(
    runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID, issue_id: str
) -> bool:
    """Mark (integration, issue) dirty and make sure one job will look at it; False if a
    job was already queued (the change is coalesced into it)."""
    from sync.jobs import reconcile_job  # the job module imports this one

    runtime.redis.set(_key("dirty", integration_id, issue_id), 1, ex=3600)
    identifier = job_id(integration_id, issue_id)
    try:
        if Job.fetch(identifier, connection=runtime.redis).get_status() == JobStatus.QUEUED:
            return False
    except NoSuchJobError:
        pass
    runtime.queue(QUEUE).enqueue(
        reconcile_job,
        str(tenant_id),
        str(integration_id),
        issue_id,
        job_id=identifier,
        retry=RETRY,
        failure_ttl=7 * 24 * 3600,
    )
    return True


def run_serialised(
    runtime: Runtime,
    integration_id: uuid.UUID,
    issue_id: str,
    reconcile: Callable[[], Any],
    requeue: Callable[[timedelta], Any],
) -> Any:
    """Run ``reconcile`` under a per-(integration, issue) lock; if another run holds it,
    try again shortly; if a change arrived while running, run once more."""
    lock = runtime.redis.lock(_key("lock", integration_id, issue_id), timeout=LOCK_SECONDS)
    if not lock.acquire(blocking=False):
        requeue(timedelta(seconds=1))
        return "deferred"
    try:
        result = None
        for _ in range(3):  # bounded: a busy issue is picked up again by the next event
            runtime.redis.delete(_key("dirty", integration_id, issue_id))
            result = reconcile()
            if not runtime.redis.exists(_key("dirty", integration_id, issue_id)):
                break
        return result
    finally:
        lock.release()
