"""RQ jobs: thin wrappers that carry the tenant explicitly and call plain functions."""

from __future__ import annotations

import uuid
from datetime import timedelta

from rq import get_current_job

from models.db import as_tenant_id
from runtime import process_runtime
from sync.dispatch import QUEUE, run_serialised
from sync.events import handle_webhook_event
from sync.inbox import sweep_pending
from sync.reconcile import reconcile_issue


def process_webhook_event(tenant_id: str, event_id: str) -> str:
    """Job: process one inbox event. Refuses to run without a tenant."""
    return handle_webhook_event(process_runtime(), as_tenant_id(tenant_id), uuid.UUID(event_id))


def sweep_webhook_inbox() -> int:
    """Clock job: enqueue events Redis missed."""
    return sweep_pending(process_runtime())


def reconcile_job(tenant_id: str, integration_id: str, issue_id: str) -> str:
    """Job: reconcile one issue of one integration, serialised per (integration, issue)."""
    runtime = process_runtime()
    tenant = as_tenant_id(tenant_id)
    integration = uuid.UUID(integration_id)
    job = get_current_job()
    attempt = 1 + ((job.retries_left is not None and 5 - job.retries_left) or 0) if job else 1

    def requeue(delay: timedelta) -> None:
        runtime.queue(QUEUE).enqueue_in(delay, reconcile_job, tenant_id, integration_id, issue_id)

    return run_serialised(
        runtime,
        integration,
        issue_id,
        lambda: reconcile_issue(runtime, tenant, integration, issue_id, attempt),
        requeue,
    )
