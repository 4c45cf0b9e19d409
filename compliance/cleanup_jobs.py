"""RQ job for Disconnect & clean up: a thin wrapper that carries the tenant explicitly."""

from __future__ import annotations

import uuid

from compliance.cleanup import run_cleanup
from models.db import as_tenant_id
from runtime import Runtime, process_runtime

QUEUE = "maintenance"
CLEANUP_JOB = "compliance.cleanup_jobs.cleanup_job"


def cleanup_job(tenant_id: str, integration_id: str, actor: str) -> dict:
    """Job: run (or resume) the clean-up of one integration of one tenant."""
    return run_cleanup(
        process_runtime(), as_tenant_id(tenant_id), uuid.UUID(integration_id), actor=actor
    )


def start_cleanup(
    runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID, actor: str
) -> str:
    """Enqueue the clean-up on the maintenance queue; the job id."""
    job = runtime.queue(QUEUE).enqueue(
        CLEANUP_JOB,
        str(tenant_id),
        str(integration_id),
        actor,
        job_id=f"cleanup-{uuid.uuid4()}",
        meta={"tenant_id": str(tenant_id), "integration_id": str(integration_id)},
        job_timeout=3600,
    )
    return job.id
