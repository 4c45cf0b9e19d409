"""RQ jobs: thin wrappers that carry the tenant explicitly and call plain functions."""

from __future__ import annotations

import logging
import uuid

from rq import get_current_job

from jira.errors import CredentialsPending, JiraError
from models.db import as_tenant_id
from runtime import process_runtime
from sync.backfill import run_backfill_page
from sync.dispatch import RETRY
from sync.drift import check_drift, integrations_to_check
from sync.events import handle_webhook_event
from sync.inbox import sweep_pending
from sync.reconcile import run_reconcile
from sync.token_wait import WAIT, credentials_pending, wait_for_token

log = logging.getLogger(__name__)


def process_webhook_event(tenant_id: str, event_id: str) -> str:
    """Job: process one inbox event. Refuses to run without a tenant."""
    return handle_webhook_event(process_runtime(), as_tenant_id(tenant_id), uuid.UUID(event_id))


def sweep_webhook_inbox() -> int:
    """Clock job: enqueue events Redis missed."""
    return sweep_pending(process_runtime())


def reconcile_job(
    tenant_id: str, integration_id: str, issue_id: str, side: str = "source", first_attempt: int = 1
) -> str:
    """Job: reconcile one issue of one integration, serialised per (integration, issue).
    A failure because a Forge-only site has no valid token yet waits for one instead."""
    job = get_current_job()
    retries_left = job.retries_left if job is not None else None
    retried = 0 if retries_left is None else RETRY.max - retries_left
    runtime, tenant, integration = (
        process_runtime(),
        as_tenant_id(tenant_id),
        uuid.UUID(integration_id),
    )
    try:
        return run_reconcile(runtime, tenant, integration, side, issue_id, first_attempt + retried)
    except Exception:
        waiting_on = credentials_pending(runtime, tenant, integration)
        if waiting_on is None:
            raise
        attempt = first_attempt + retried + 1
        wait_for_token(runtime, tenant, integration, side, issue_id, attempt, waiting_on)
        return "waiting"


def backfill_job(tenant_id: str, integration_id: str) -> int:
    """Job: mirror pre-existing issues page by page (resumable: rerun continues). A
    Forge-only site without a valid token yet: the job runs again after a wait."""
    runtime = process_runtime()
    pages = 0
    try:
        while run_backfill_page(runtime, as_tenant_id(tenant_id), uuid.UUID(integration_id)):
            pages += 1
    except CredentialsPending:
        runtime.queue("sync").enqueue_in(
            WAIT, backfill_job, tenant_id, integration_id, job_id=f"backfill-{integration_id}"
        )
        return pages
    return pages + 1


def drift_sweep() -> int:
    """Clock job: enqueue a drift check for every enabled integration."""
    runtime = process_runtime()
    checks = integrations_to_check(runtime)
    for tenant_id, integration_id in checks:
        runtime.queue("maintenance").enqueue(
            drift_job, str(tenant_id), str(integration_id), job_id=f"drift-{integration_id}"
        )
    return len(checks)


def drift_job(tenant_id: str, integration_id: str) -> int:
    """Job: reconcile one integration's issues updated since its watermark. A site that
    refuses is logged and looked at again next time (the clock runs this every 5 min)."""
    try:
        return check_drift(process_runtime(), as_tenant_id(tenant_id), uuid.UUID(integration_id))
    except JiraError as error:
        log.warning("drift check of integration %s: %s", integration_id, error)
        return 0
