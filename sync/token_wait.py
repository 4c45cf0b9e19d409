"""Work that waits for a Forge app system token instead of failing.

A site installed through Forge only can be called only with a token Forge handed over;
when the held one has expired, a reconcile cannot run. It is queued again after
``WAIT`` (spending none of its retries) and noted under the site's installation, and
the next token (any Forge invocation, at the latest the hourly scheduled trigger)
runs the noted ones at once."""

from __future__ import annotations

import uuid
from datetime import timedelta

from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from jira.errors import CredentialsPending
from jira.forge_tokens import site_credentials
from models.installations import Installation
from models.integrations import Integration
from runtime import Runtime
from sync.dispatch import QUEUE, enqueue_reconcile, job_id
from sync.sites import ends_of

WAIT = timedelta(minutes=10)
NOTED_SECONDS = 24 * 3600


def _noted(installation_id: str) -> str:
    return f"tandem:token-wait:{installation_id}"


def credentials_pending(
    runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID
) -> str | None:
    """The installation an integration waits on for a Forge token, or None."""
    with runtime.db.tenant_session(tenant_id) as session:
        integration = session.get(Integration, integration_id)
        if integration is None:
            return None
        for kind, end_id in ends_of(integration):
            installation = session.get(Installation, end_id) if kind == "installation" else None
            if installation is None:
                continue
            try:
                site_credentials(runtime, session, installation)
            except CredentialsPending as pending:
                return pending.waiting_on
    return None


def wait_for_token(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    side: str,
    issue_id: str,
    attempt: int,
    waiting_on: str,
) -> None:
    """Queue the reconcile again after ``WAIT`` and note it for the next token."""
    enqueue_reconcile(
        runtime, tenant_id, integration_id, side, issue_id, first_attempt=attempt, delay=WAIT
    )
    key = _noted(waiting_on)
    with runtime.redis.pipeline() as pipeline:
        pipeline.sadd(key, job_id(integration_id, side, issue_id)).expire(key, NOTED_SECONDS)
        pipeline.execute()


def wake_waiting(runtime: Runtime, installation_id: uuid.UUID | str) -> int:
    """A token arrived for this installation: run its waiting reconciles now."""
    with runtime.redis.pipeline() as pipeline:  # MULTI: each noted job is taken once
        noted, _ = (
            pipeline.smembers(_noted(str(installation_id)))
            .delete(_noted(str(installation_id)))
            .execute()
        )
    queue = runtime.queue(QUEUE)
    registry = ScheduledJobRegistry(queue=queue)
    woken = 0
    for raw in sorted(noted):
        # Still waiting in the schedule (its hash may say "finished": the run that queued
        # it again under its own id ended after that); otherwise it runs by itself.
        if raw.decode() not in registry:
            continue
        try:
            job = Job.fetch(raw.decode(), connection=runtime.redis)
        except NoSuchJobError:
            continue
        registry.remove(job)
        queue.enqueue_job(job)
        woken += 1
    return woken
