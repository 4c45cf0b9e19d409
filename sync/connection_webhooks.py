"""Jira dynamic webhooks on OAuth-connected sites: one registration per connection, for
the projects whose changes its integrations need (the sources, and the targets of
two-way integrations), pointed at ``/oauth/webhooks/<connection id>``. Registered after a
(re)connect and when an integration using the connection is created or enabled;
refreshed daily from the clock (Jira expires them after 30 days)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from jira.client import JiraClient
from jira.errors import JiraError, PermanentError
from jira.meter import CallMeter
from jira.oauth_tokens import access_token_for
from models.connections import Connection
from models.integrations import Integration
from runtime import Runtime
from sync.sites import connection_client

log = logging.getLogger(__name__)
EVENTS = (
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
)
LIFETIME = timedelta(days=30)  # what Jira documents; refreshed long before
LOCK_SECONDS = 60


def webhook_url(runtime: Runtime, connection_id: uuid.UUID) -> str:
    """Where the connected site delivers this connection's events."""
    return f"{runtime.settings.base_url}/oauth/webhooks/{connection_id}"


def jql_for(projects: list[str]) -> str | None:
    """``project in ("A", "B")`` for the projects (sorted, so it compares stably)."""
    if not projects:
        return None
    quoted = (key.replace("\\", "\\\\").replace('"', '\\"') for key in projects)
    return "project in (" + ", ".join(f'"{key}"' for key in quoted) + ")"


def watched_projects(session: Session, connection_id: uuid.UUID) -> list[str]:
    """Projects of this connection whose changes an enabled integration acts on."""
    rows = session.execute(
        select(Integration).where(
            Integration.enabled.is_(True),
            or_(
                Integration.source_connection_id == connection_id,
                Integration.target_connection_id == connection_id,
            ),
        )
    ).scalars()
    projects = set()
    for integration in rows:
        if integration.source_connection_id == connection_id:
            projects.add(integration.source_project)
        if (
            integration.target_connection_id == connection_id
            and integration.config.get("direction") == "two_way"
        ):
            projects.add(integration.target_project)
    return sorted(projects)


def sync_connection_webhooks(
    runtime: Runtime, tenant_id: uuid.UUID, connection_id: uuid.UUID, refresh: bool = False
) -> str:
    """Make the site's dynamic webhooks match what the integrations need (register,
    replace or delete); with ``refresh``, also renew them (or re-register any that
    expired). Returns what it did in a word. Serialised per connection."""
    lock = runtime.redis.lock(f"tandem:connection-webhooks:{connection_id}", LOCK_SECONDS)
    if not lock.acquire(blocking=True, blocking_timeout=LOCK_SECONDS):
        return "busy"
    try:
        return _sync(runtime, tenant_id, connection_id, refresh)
    finally:
        lock.release()


def _sync(runtime: Runtime, tenant_id: uuid.UUID, connection_id: uuid.UUID, refresh: bool) -> str:
    with runtime.db.tenant_session(tenant_id) as session:
        connection = session.get(Connection, connection_id)
        if connection is None or connection.status != "active":
            return "inactive"
        wanted = jql_for(watched_projects(session, connection_id))
        ids = [int(i) for i in connection.webhook_ids or []]
        current = connection.webhook_jql
        if wanted == current and ids and not refresh:
            return "unchanged"
        if wanted is None and not ids:
            return "unchanged"
        client, _site = connection_client(runtime, session, connection_id, CallMeter())
    expires: datetime | None = None
    if wanted == current and ids:
        ids, expires, outcome = _renew(client, ids)
        if not ids:
            ids, outcome = _register(runtime, client, connection_id, wanted), "re-registered"
    else:
        if ids:
            _delete(client, ids)
        ids = _register(runtime, client, connection_id, wanted) if wanted else []
        outcome = "registered" if wanted else "removed"
    if ids and expires is None:
        expires = datetime.now(UTC) + LIFETIME
    with runtime.db.tenant_session(tenant_id) as session:
        stored = session.get(Connection, connection_id, with_for_update=True)
        if stored is not None:
            stored.webhook_ids = ids
            stored.webhook_jql = wanted if ids else None
            stored.webhooks_expire_at = expires if ids else None
    log.info("connection %s webhooks: %s", connection_id, outcome)
    return outcome


def _register(
    runtime: Runtime, client: JiraClient, connection_id: uuid.UUID, jql: str | None
) -> list[int]:
    body = {
        "url": webhook_url(runtime, connection_id),
        "webhooks": [{"events": list(EVENTS), "jqlFilter": jql}],
    }
    results = client.call("register_webhooks", json=body).json().get("webhookRegistrationResult")
    ids, errors = [], []
    for result in results or []:
        if "createdWebhookId" in result:
            ids.append(int(result["createdWebhookId"]))
        else:
            errors += [str(e) for e in result.get("errors") or []]
    if errors or not ids:
        raise PermanentError(
            "Jira refused the webhook registration: " + ("; ".join(errors) or "no id returned"),
            None,
            "register_webhooks",
        )
    return ids


def _renew(client: JiraClient, ids: list[int]) -> tuple[list[int], datetime | None, str]:
    """Refresh the registrations still alive; ([], None, …) if any of them expired."""
    live = {int(hook["id"]) for hook in _listed(client)}
    if not set(ids) <= live:
        _delete(client, [i for i in ids if i in live])
        return [], None, "expired"
    answer = client.call("refresh_webhooks", json={"webhookIds": ids}).json()
    stamp = answer.get("expirationDate")
    expires = datetime.fromtimestamp(stamp / 1000, UTC) if isinstance(stamp, int) else None
    return ids, expires, "refreshed"


def _listed(client: JiraClient) -> list[dict[str, Any]]:
    hooks: list[dict[str, Any]] = []
    start = 0
    while True:
        page = client.call("list_webhooks", params={"startAt": start, "maxResults": 100}).json()
        hooks += page.get("values") or []
        if page.get("isLast", True) or not page.get("values"):
            return hooks
        start += len(page["values"])


def _delete(client: JiraClient, ids: list[int]) -> None:
    try:
        client.call("delete_webhooks", json={"webhookIds": ids})
    except PermanentError as error:  # gone already: nothing left to delete
        log.info("deleting webhooks: %s", error)


def connections_of_integration(integration: Integration) -> list[uuid.UUID]:
    """The connection ends of an integration (none, one or two)."""
    ends = (integration.source_connection_id, integration.target_connection_id)
    return [end for end in ends if end is not None]


def refresh_all_connection_webhooks(runtime: Runtime) -> dict[str, int]:
    """The clock's daily job: use every active connection's grant (keeping its rotating
    refresh token alive) and renew (or re-register) its webhooks. Tenants are listed by
    the maintenance role; each connection in its tenant's session."""
    with runtime.maintenance_engine().connect() as connection:
        tenants = [row[0] for row in connection.execute(text("SELECT id FROM tenants"))]
    done: dict[str, int] = {}
    for tenant_id in tenants:
        with runtime.db.tenant_session(tenant_id) as session:
            connection_ids = list(
                session.execute(
                    select(Connection.id).where(Connection.status == "active")
                ).scalars()
            )
        for connection_id in connection_ids:
            try:
                # Refresh tokens lapse after 90 days unused: use the grant daily (this also
                # notices a revoked grant and pauses its integrations without waiting for
                # the next change).
                access_token_for(runtime, tenant_id, connection_id)
                outcome = sync_connection_webhooks(runtime, tenant_id, connection_id, refresh=True)
            except JiraError as error:
                log.warning("connection %s webhooks: %s", connection_id, error)
                outcome = "failed"
            done[outcome] = done.get(outcome, 0) + 1
    return done
