"""The clock's schedule and its jobs (run by the single cron scheduler in rq_worker.py)."""

from __future__ import annotations

import time

from rq.cron import CronScheduler

from compliance.cleanup_jobs import resume_stalled_cleanups
from compliance.deletion_jobs import delete_due_workspaces_job
from compliance.jobs import purge_exports_job
from compliance.personal_data_jobs import report_personal_data_job
from compliance.retention_jobs import purge_expired_job
from compliance.uninstall_jobs import restart_uninstall_cleanups_job
from config import load_settings
from runtime import redis_client
from sync.connection_jobs import refresh_connection_webhooks
from sync.jobs import drift_sweep, sweep_webhook_inbox

HEARTBEAT_KEY = "tandem:clock:heartbeat"


def heartbeat() -> float:
    """A maintenance job, so a running clock and worker are visible in Redis."""
    now = time.time()
    redis_client(load_settings().redis_url).set(HEARTBEAT_KEY, now)
    return now


def register_schedule(scheduler: CronScheduler) -> None:
    """Every periodic job of the deployment, in one place."""
    scheduler.register(heartbeat, queue_name="maintenance", interval=60)
    scheduler.register(sweep_webhook_inbox, queue_name="maintenance", interval=5)
    # Jira expires dynamic webhooks after 30 days; renew them daily.
    scheduler.register(refresh_connection_webhooks, queue_name="maintenance", interval=24 * 3600)
    scheduler.register(drift_sweep, queue_name="maintenance", interval=300)
    # A clean-up run whose worker died (its lease lapsed) is resumed; an uninstalled
    # workspace whose clean-up never started (Redis was down) gets it.
    scheduler.register(resume_stalled_cleanups, queue_name="maintenance", interval=60)
    scheduler.register(restart_uninstall_cleanups_job, queue_name="maintenance", interval=3600)
    # Workspaces whose 7-day deletion grace period has ended are hard-deleted hourly.
    scheduler.register(delete_due_workspaces_job, queue_name="maintenance", interval=3600)
    # Export archives are downloadable for 24 hours; delete them once past that.
    scheduler.register(purge_exports_job, queue_name="maintenance", interval=3600)
    # Raw responses past 30 days (or the workspace's shorter window), sync-log details and
    # handled webhook payloads past 90 days (or shorter) are purged daily.
    scheduler.register(purge_expired_job, queue_name="maintenance", interval=24 * 3600)
    # Atlassian's personal-data reporting cycle is 7 days: report the accounts Tandem
    # holds personal data of weekly, and erase or refresh what the answer asks for.
    scheduler.register(report_personal_data_job, queue_name="maintenance", interval=7 * 24 * 3600)
