"""Starting clean-up runs as RQ jobs on the maintenance queue, and the clock's sweep that
resumes a run whose worker died (its lease lapsed while the run was unfinished)."""

from __future__ import annotations

import logging
import uuid

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from compliance import cleanup_runs as runs
from compliance.cleanup import run_cleanup
from compliance.cleanup_runs import LEASE_SECONDS, RunSpec, Scope
from compliance.cleanup_scope import integrations_in
from models.db import as_tenant_id
from runtime import Runtime, process_runtime

log = logging.getLogger(__name__)
QUEUE = "maintenance"
CLEANUP_JOB = "compliance.cleanup_jobs.cleanup_job"
WAITING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def cleanup_job(tenant_id: str, run_id: str) -> dict:
    """Job: run (or resume) one clean-up run of one tenant."""
    runtime = process_runtime()
    spec = runs.load_spec(runtime.redis, run_id)
    if spec is None or spec.tenant_id != as_tenant_id(tenant_id):
        raise LookupError(f"no clean-up run {run_id} for this tenant")
    return run_cleanup(runtime, run_id)


def start_cleanup(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    scope: Scope,
    dry_run: bool,
    actor: str,
    cause: str = "admin",
    skip_installations: bool = False,
    supersede: bool = False,
    lease_seconds: int = LEASE_SECONDS,
) -> tuple[str, bool]:
    """Create a run and enqueue it; (run id, True). If the tenant has an unfinished run
    (and ``supersede`` is not asked), that run's (id, False) instead. LookupError for an
    integration that is not the tenant's."""
    with runtime.db.tenant_session(tenant_id) as session:
        integrations_in(session, scope)  # raises for an unknown integration
    spec = RunSpec(
        run_id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        scope=scope,
        dry_run=dry_run,
        actor=actor,
        cause=cause,
        skip_installations=skip_installations,
        lease_seconds=lease_seconds,
    )
    run_id = runs.create_run(runtime.redis, spec, supersede=supersede)
    if run_id != spec.run_id:
        return run_id, False
    _enqueue(runtime, spec.tenant_id, run_id)
    return run_id, True


def _enqueue(runtime: Runtime, tenant_id: uuid.UUID, run_id: str) -> str:
    job = runtime.queue(QUEUE).enqueue(
        CLEANUP_JOB,
        str(tenant_id),
        run_id,
        job_id=f"cleanup-{run_id}-{uuid.uuid4().hex[:8]}",
        meta={"tenant_id": str(tenant_id), "run_id": run_id},
        job_timeout=6 * 3600,
        failure_ttl=7 * 24 * 3600,
    )
    runtime.redis.hset(runs.run_key(run_id), "job", job.id)
    return job.id


def _waiting(runtime: Runtime, run_id: str) -> bool:
    """Whether the run's newest job is still waiting in a queue."""
    job_id = runtime.redis.hget(runs.run_key(run_id), "job")
    if not job_id:
        return False
    try:
        return Job.fetch(job_id.decode(), connection=runtime.redis).get_status() in WAITING
    except NoSuchJobError:
        return False


def resume_stalled(runtime: Runtime) -> list[str]:
    """Re-enqueue every unfinished run that no worker holds and no queued job will pick
    up: its worker was killed (or its job failed). Two jobs of one run are harmless, the
    lease lets one of them work. Returns the runs re-enqueued."""
    resumed = []
    for run_id in runs.unfinished_runs(runtime.redis):
        spec = runs.load_spec(runtime.redis, run_id)
        status = runs.run_status(runtime.redis, run_id)
        if spec is None or status in runs.FINAL:
            runs.forget(runtime.redis, run_id)
            continue
        if runs.lease_held(runtime.redis, run_id) or _waiting(runtime, run_id):
            continue
        log.info("clean-up run %s: resuming (%s, no worker holds it)", run_id, status)
        _enqueue(runtime, spec.tenant_id, run_id)
        resumed.append(run_id)
    return resumed


def resume_stalled_cleanups() -> list[str]:
    """Clock job (every minute): resume clean-up runs whose worker died."""
    return resume_stalled(process_runtime())
