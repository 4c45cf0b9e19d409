"""The durable webhook inbox: record before acknowledging, enqueue after committing,
and sweep up whatever Redis was not there to take."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import text
from sqlalchemy.exc import DataError

from runtime import Runtime

log = logging.getLogger(__name__)
QUEUE = "webhooks"
IN_FLIGHT = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
_COLUMNS = "(id, tenant_id, installation_id, connection_id, identifier, event, payload)"


@dataclass(frozen=True)
class Arrival:
    """One received webhook, from an installation or (dynamic webhooks) a connection."""

    tenant_id: uuid.UUID
    identifier: str
    event: str
    body: str  # the JSON body as received
    installation_id: uuid.UUID | None = None
    connection_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if (self.installation_id is None) == (self.connection_id is None):
            raise ValueError("a webhook comes from exactly one installation or connection")


# Per arrival: the new event's id, None for an identifier already received, or the
# DataError that PostgreSQL raised for this body alone.
Outcome = uuid.UUID | None | DataError


def record_arrivals(runtime: Runtime, arrivals: Sequence[Arrival]) -> list[Outcome]:
    """Commit the arrivals to the inbox (one transaction per tenant), then hand the new
    events to the workers in one Redis round trip (if Redis is down they stay pending
    for the sweeper). Database errors other than a bad body raise for the whole batch."""
    outcomes: dict[int, Outcome] = {}
    by_tenant: dict[uuid.UUID, list[int]] = {}
    for index, arrival in enumerate(arrivals):
        by_tenant.setdefault(arrival.tenant_id, []).append(index)
    for tenant_id, indexes in by_tenant.items():
        outcomes |= _insert(runtime, tenant_id, {i: arrivals[i] for i in indexes})
    new = [(arrivals[i].tenant_id, outcome) for i, outcome in sorted(outcomes.items())]
    enqueue_events(
        runtime, [(tenant, event) for tenant, event in new if isinstance(event, uuid.UUID)]
    )
    return [outcomes[i] for i in range(len(arrivals))]


def _insert(
    runtime: Runtime, tenant_id: uuid.UUID, arrivals: dict[int, Arrival]
) -> dict[int, Outcome]:
    rows, parameters = [], {}
    for n, arrival in enumerate(arrivals.values()):
        rows.append(
            f"(%(id{n})s, %(tenant)s, %(installation{n})s, %(connection{n})s, "
            f"%(identifier{n})s, %(event{n})s, %(payload{n})s)"
        )
        parameters |= {
            f"id{n}": str(uuid.uuid4()),
            f"installation{n}": arrival.installation_id and str(arrival.installation_id),
            f"connection{n}": arrival.connection_id and str(arrival.connection_id),
            f"identifier{n}": arrival.identifier,
            f"event{n}": arrival.event,
            f"payload{n}": arrival.body,
        }
    statement = (  # only placeholders are interpolated; the values travel as parameters
        f"INSERT INTO webhook_events {_COLUMNS} VALUES {', '.join(rows)} "  # noqa: S608
        "ON CONFLICT (tenant_id, identifier) DO NOTHING RETURNING identifier, id::text"
    )
    try:
        inserted = runtime.db.tenant_statement(
            tenant_id, statement, {**parameters, "tenant": str(tenant_id)}
        )
    except DataError as error:
        if len(arrivals) == 1:
            return dict.fromkeys(arrivals, error)
        outcomes: dict[int, Outcome] = {}
        for index, arrival in arrivals.items():  # find the body PostgreSQL refused
            outcomes |= _insert(runtime, tenant_id, {index: arrival})
        return outcomes
    ids = {identifier: uuid.UUID(event_id) for identifier, event_id in inserted}
    outcomes = {}
    for index, arrival in arrivals.items():  # a repeat within the batch is a duplicate
        outcomes[index] = ids.pop(arrival.identifier, None)
    return outcomes


def record_webhook(runtime: Runtime, arrival: Arrival) -> uuid.UUID | None:
    """Commit one arrival (sharing the transaction with concurrent ones of this process)
    and enqueue its job; its event id, or None if its identifier was already received."""
    outcome = runtime.inbox.submit(arrival)
    if isinstance(outcome, DataError):
        raise outcome
    return outcome


def job_id_for(event_id: uuid.UUID) -> str:
    """One RQ job id per event, so re-enqueueing the same event is recognisable."""
    return f"webhook-event-{event_id}"


def enqueue_events(runtime: Runtime, events: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> bool:
    """Hand committed (tenant, event) pairs to the workers in one round trip; False (the
    rows stay pending) if Redis is down."""
    from sync.jobs import process_webhook_event  # the job module imports this one

    if not events:
        return True
    if not runtime.redis_breaker.allows():
        return False
    jobs = [
        Queue.prepare_data(
            process_webhook_event,
            (str(tenant_id), str(event_id)),
            job_id=job_id_for(event_id),
            result_ttl=300,
            failure_ttl=7 * 24 * 3600,
        )
        for tenant_id, event_id in events
    ]
    try:
        with runtime.redis.pipeline() as pipeline:
            runtime.queue(QUEUE).enqueue_many(jobs, pipeline=pipeline)
            pipeline.execute()
    except (redis.ConnectionError, redis.TimeoutError):
        log.warning("redis unreachable: %d events stay pending for the sweeper", len(events))
        runtime.redis_breaker.trip()
        return False
    return True


def enqueue_event(runtime: Runtime, tenant_id: uuid.UUID, event_id: uuid.UUID) -> bool:
    """Hand one committed event to the workers; False (row stays pending) if Redis is down."""
    return enqueue_events(runtime, [(tenant_id, event_id)])


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
