"""RQ jobs for the weekly Atlassian personal-data report."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from compliance.personal_data import report_accounts, tenants_to_report
from models.db import as_tenant_id
from runtime import process_runtime

QUEUE = "maintenance"


RETRY_AFTER = timedelta(hours=6)
ATTEMPTS = 3  # then the next weekly run sends the batches again

log = logging.getLogger(__name__)


def report_personal_data_job() -> int:
    """Clock job (weekly): one report job per tenant, so tenants fail and retry apart."""
    runtime = process_runtime()
    tenants = tenants_to_report(runtime)
    for tenant_id in tenants:
        runtime.queue(QUEUE).enqueue(
            report_tenant_personal_data_job, str(tenant_id), job_id=f"personal-data-{tenant_id}"
        )
    return len(tenants)


def report_tenant_personal_data_job(tenant_id: str, attempt: int = 1) -> dict[str, Any]:
    """Job: report one tenant's accounts and act on the answer. Refuses to run without a
    tenant. A batch that could not be sent (a site unreachable, Jira refusing) is an
    operational condition, not a crash: it is logged (counts only), and the report is
    queued again in six hours, up to three attempts; then the next weekly run."""
    runtime = process_runtime()
    result = report_accounts(runtime, as_tenant_id(tenant_id))
    details = result.details()
    if result.failed_batches:
        again = attempt < ATTEMPTS
        log.warning(
            "personal-data report: %d batch(es) not sent (attempt %d of %d)%s",
            result.failed_batches,
            attempt,
            ATTEMPTS,
            "; retrying in 6 h" if again else "; the weekly run sends them again",
        )
        if again:
            runtime.queue(QUEUE).enqueue_in(
                RETRY_AFTER,
                report_tenant_personal_data_job,
                tenant_id,
                attempt + 1,
                job_id=f"personal-data-{tenant_id}-retry",
            )
    return {**details, "attempt": attempt}
