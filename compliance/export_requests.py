"""Starting an export job and reading its status, for one tenant only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from rq.exceptions import NoSuchJobError
from rq.job import Job

from compliance.export_files import EXPORT_LIFETIME_SECONDS
from compliance.export_links import make_link_token
from runtime import Runtime

QUEUE = "maintenance"
JOB_PREFIX = "export-"
EXPORT_JOB = "compliance.jobs.export_job"


@dataclass(frozen=True)
class ExportStatus:
    """A job's state and, once finished, its file name and row counts."""

    job_id: str
    state: str
    file: str | None = None
    rows: dict[str, int] | None = None


def start_export(runtime: Runtime, tenant_id: uuid.UUID) -> str:
    """Enqueue an export of the tenant on the maintenance queue; the job id."""
    job = runtime.queue(QUEUE).enqueue(
        EXPORT_JOB,
        str(tenant_id),
        job_id=f"{JOB_PREFIX}{uuid.uuid4()}",
        meta={"tenant_id": str(tenant_id)},
        job_timeout=900,
        result_ttl=EXPORT_LIFETIME_SECONDS,
        failure_ttl=EXPORT_LIFETIME_SECONDS,
    )
    return job.id


def export_status(runtime: Runtime, tenant_id: uuid.UUID, job_id: str) -> ExportStatus | None:
    """The status of the tenant's own export job; None for anything else."""
    if not job_id.startswith(JOB_PREFIX) or len(job_id) > 64:
        return None
    try:
        job = Job.fetch(job_id, connection=runtime.redis)
    except NoSuchJobError:
        return None
    if job.func_name != EXPORT_JOB or job.meta.get("tenant_id") != str(tenant_id):
        return None
    found = job.get_status(refresh=False)
    state = getattr(found, "value", None) or "unknown"
    result: Any = job.return_value() if state == "finished" else None
    if isinstance(result, dict):
        return ExportStatus(job_id, state, str(result["file"]), dict(result["rows"]))
    return ExportStatus(job_id, state)


def download_token(runtime: Runtime, status: ExportStatus, tenant_id: uuid.UUID) -> str | None:
    """A signed link token for a finished export, or None."""
    if status.file is None:
        return None
    return make_link_token(runtime.settings.secret_key, tenant_id, status.file)
