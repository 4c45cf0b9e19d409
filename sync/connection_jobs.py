"""Jobs that keep OAuth-connected sites' dynamic webhooks in line, and the calls that ask
for them (after a (re)connect, and when an integration using a connection is created or
enabled)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

import redis
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from jira.errors import JiraError, TransientError
from models.db import as_tenant_id
from models.integrations import Integration
from runtime import Runtime, process_runtime
from sync.connection_webhooks import (
    connections_of_integration,
    refresh_all_connection_webhooks,
    sync_connection_webhooks,
)

log = logging.getLogger(__name__)
QUEUE = "sync"
RETRY = Retry(max=4, interval=[10, 60, 300, 900])


def connection_webhooks_job(tenant_id: str, connection_id: str) -> str:
    """Job: make one connection's dynamic webhooks match its integrations. Transient Jira
    errors are retried; anything else is logged and ends the job (the daily refresh will
    try again)."""
    try:
        return sync_connection_webhooks(
            process_runtime(), as_tenant_id(tenant_id), uuid.UUID(connection_id)
        )
    except TransientError:
        raise
    except JiraError as error:
        log.warning("connection %s webhooks not registered: %s", connection_id, error)
        return f"failed: {error}"


def refresh_connection_webhooks() -> dict[str, int]:
    """Clock job (daily): renew every active connection's dynamic webhooks."""
    return refresh_all_connection_webhooks(process_runtime())


def request_webhook_sync(
    runtime: Runtime, tenant_id: uuid.UUID, connection_ids: Iterable[uuid.UUID]
) -> int:
    """Queue one webhook job per connection (one queued job at most each); returns how
    many were queued. Redis being down is logged: the daily refresh catches up."""
    queued = 0
    for connection_id in dict.fromkeys(connection_ids):
        identifier = f"connection-webhooks-{connection_id}"
        try:
            try:
                job = Job.fetch(identifier, connection=runtime.redis)
                if job.get_status() == JobStatus.QUEUED:
                    continue
            except NoSuchJobError:
                pass
            runtime.queue(QUEUE).enqueue(
                connection_webhooks_job,
                str(tenant_id),
                str(connection_id),
                job_id=identifier,
                retry=RETRY,
                failure_ttl=7 * 24 * 3600,
            )
            queued += 1
        except (redis.ConnectionError, redis.TimeoutError):
            log.warning(
                "redis unreachable: connection %s webhooks wait for the clock", connection_id
            )
            break
    return queued


def integration_saved(runtime: Runtime, tenant_id: uuid.UUID, integration: Integration) -> int:
    """Call after an integration is created, enabled or changed: its connection ends get
    their dynamic webhooks (re)registered for its projects."""
    return request_webhook_sync(runtime, tenant_id, connections_of_integration(integration))
