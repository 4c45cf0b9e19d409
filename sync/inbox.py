"""The durable webhook inbox: record before acknowledging, enqueue after committing,
and sweep up whatever Redis was not there to take."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import redis
from sqlalchemy import text

from runtime import Runtime

log = logging.getLogger(__name__)
QUEUE = "webhooks"


def record_webhook(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    installation_id: uuid.UUID,
    identifier: str,
    event: str,
    payload: dict[str, Any],
) -> uuid.UUID | None:
    """Commit one inbox row; None if this identifier was already received (a duplicate)."""
    with runtime.db.tenant_session(tenant_id) as session:
        return session.execute(
            text(
                "INSERT INTO webhook_events (id, tenant_id, installation_id, identifier, event, "
                "payload) VALUES (:id, :tenant, :installation, :identifier, :event, "
                "CAST(:payload AS jsonb)) ON CONFLICT (tenant_id, identifier) DO NOTHING "
                "RETURNING id"
            ),
            {
                "id": uuid.uuid4(),
                "tenant": tenant_id,
                "installation": installation_id,
                "identifier": identifier,
                "event": event,
                "payload": json.dumps(payload, separators=(",", ":")),
            },
        ).scalar_one_or_none()


def enqueue_event(runtime: Runtime, tenant_id: uuid.UUID, event_id: uuid.UUID) -> bool:
    """Hand a committed event to the workers; False (row stays pending) if Redis is down."""
    from sync.jobs import process_webhook_event  # the job module imports this one

    try:
        runtime.queue(QUEUE).enqueue(
            process_webhook_event,
            str(tenant_id),
            str(event_id),
            job_id=f"webhook-event-{event_id}",
            result_ttl=300,
            failure_ttl=7 * 24 * 3600,
        )
    except (redis.ConnectionError, redis.TimeoutError):
        log.warning("redis unreachable: event %s stays pending for the sweeper", event_id)
        return False
    with runtime.db.tenant_session(tenant_id) as session:
        session.execute(
            text(
                "UPDATE webhook_events SET status = 'enqueued', enqueued_at = now() "
                "WHERE id = :id AND status = 'pending'"
            ),
            {"id": event_id},
        )
    return True


def sweep_unfinished(
    runtime: Runtime, pending_after_seconds: int = 5, enqueued_after_seconds: int = 600
) -> int:
    """Enqueue events still pending after a few seconds (Redis was down when they came)
    and events enqueued long ago but never processed (their job was lost)."""
    with runtime.maintenance_engine().connect() as connection:
        rows = connection.execute(
            text(
                "SELECT tenant_id, id FROM webhook_events WHERE "
                "(status = 'pending' AND received_at < now() - make_interval(secs => :pending)) "
                "OR (status = 'enqueued' AND enqueued_at < now() - make_interval(secs => :lost)) "
                "ORDER BY received_at LIMIT 1000"
            ),
            {"pending": pending_after_seconds, "lost": enqueued_after_seconds},
        ).all()
    enqueued = 0
    for tenant_id, event_id in rows:
        if not enqueue_event(runtime, tenant_id, event_id):
            break
        enqueued += 1
    if rows:
        log.info("sweeper: enqueued %d of %d unfinished events", enqueued, len(rows))
    return enqueued
