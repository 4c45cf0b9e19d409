"""The durable webhook inbox: record before acknowledging, enqueue after committing,
and sweep up whatever Redis was not there to take."""

from __future__ import annotations

import logging
import uuid

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import text

from runtime import Runtime

log = logging.getLogger(__name__)
QUEUE = "webhooks"
IN_FLIGHT = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def record_webhook(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    installation_id: uuid.UUID | None,
    identifier: str,
    event: str,
    body: str,
    connection_id: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """Commit one inbox row holding the JSON body as received, from an installation or
    (dynamic webhooks) a connection; None if this identifier was already received."""
    if (installation_id is None) == (connection_id is None):
        raise ValueError("a webhook comes from exactly one installation or connection")
    with runtime.db.tenant_connection(tenant_id) as connection:
        return connection.execute(
            text(
                "INSERT INTO webhook_events (id, tenant_id, installation_id, connection_id, "
                "identifier, event, payload) VALUES (:id, :tenant, :installation, :connection, "
                ":identifier, :event, CAST(:payload AS jsonb)) "
                "ON CONFLICT (tenant_id, identifier) DO NOTHING RETURNING id"
            ),
            {
                "id": uuid.uuid4(),
                "tenant": tenant_id,
                "installation": installation_id,
                "connection": connection_id,
                "identifier": identifier,
                "event": event,
                "payload": body,
            },
        ).scalar_one_or_none()


def job_id_for(event_id: uuid.UUID) -> str:
    """One RQ job id per event, so re-enqueueing the same event is recognisable."""
    return f"webhook-event-{event_id}"


def enqueue_event(runtime: Runtime, tenant_id: uuid.UUID, event_id: uuid.UUID) -> bool:
    """Hand a committed event to the workers; False (row stays pending) if Redis is down."""
    from sync.jobs import process_webhook_event  # the job module imports this one

    if not runtime.redis_breaker.allows():
        return False
    try:
        with runtime.redis.pipeline() as pipeline:  # one round trip to Redis
            runtime.queue(QUEUE).enqueue(
                process_webhook_event,
                str(tenant_id),
                str(event_id),
                job_id=job_id_for(event_id),
                result_ttl=300,
                failure_ttl=7 * 24 * 3600,
                pipeline=pipeline,
            )
            pipeline.execute()
    except (redis.ConnectionError, redis.TimeoutError):
        log.warning("redis unreachable: event %s stays pending for the sweeper", event_id)
        runtime.redis_breaker.trip()
        return False
    return True


def _job_in_flight(runtime: Runtime, event_id: uuid.UUID) -> bool:
    try:
        job = Job.fetch(job_id_for(event_id), connection=runtime.redis)
    except NoSuchJobError:
        return False
    return job.get_status() in IN_FLIGHT or job.is_failed  # failed: RQ's registry shows it


def sweep_pending(runtime: Runtime, older_than_seconds: int = 5) -> int:
    """Enqueue events still pending after a few seconds whose job never reached Redis
    (it was down) or was lost. Returns how many it enqueued."""
    with runtime.maintenance_engine().connect() as connection:
        rows = connection.execute(
            text(
                "SELECT tenant_id, id FROM webhook_events WHERE status = 'pending' "
                "AND received_at < now() - make_interval(secs => :age) "
                "ORDER BY received_at LIMIT 1000"
            ),
            {"age": older_than_seconds},
        ).all()
    enqueued = 0
    for tenant_id, event_id in rows:
        try:
            if _job_in_flight(runtime, event_id):
                continue
        except (redis.ConnectionError, redis.TimeoutError):
            break
        if not enqueue_event(runtime, tenant_id, event_id):
            break
        enqueued += 1
    if enqueued:
        log.info("sweeper: enqueued %d pending events", enqueued)
    return enqueued
