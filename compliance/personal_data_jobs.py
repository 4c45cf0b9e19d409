"""RQ jobs for the weekly Atlassian personal-data report."""

from __future__ import annotations

from typing import Any

from compliance.personal_data import report_accounts, tenants_to_report
from models.db import as_tenant_id
from runtime import process_runtime

QUEUE = "maintenance"


class ReportIncomplete(RuntimeError):
    """Some batches could not be sent; the next run reports them again."""


def report_personal_data_job() -> int:
    """Clock job (weekly): one report job per tenant, so tenants fail and retry apart."""
    runtime = process_runtime()
    tenants = tenants_to_report(runtime)
    for tenant_id in tenants:
        runtime.queue(QUEUE).enqueue(
            report_tenant_personal_data_job, str(tenant_id), job_id=f"personal-data-{tenant_id}"
        )
    return len(tenants)


def report_tenant_personal_data_job(tenant_id: str) -> dict[str, Any]:
    """Job: report one tenant's accounts and act on the answer. Refuses to run without a
    tenant; fails (after auditing the run) when a batch could not be sent."""
    result = report_accounts(process_runtime(), as_tenant_id(tenant_id))
    if result.failed_batches:
        raise ReportIncomplete(f"{result.failed_batches} personal-data report batches failed")
    return result.details()
