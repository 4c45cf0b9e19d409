"""Disconnecting OAuth-connected sites, the last step of a real clean-up run.

For each connection, in this order (each step is safe to repeat after a crash):

1. delete the dynamic webhooks Tandem registered on the site (while the token works);
2. revoke the grant at Atlassian's RFC 7009 endpoint with the refresh token, unless
   another connection still in use shares that grant (one consent, several sites);
   Atlassian documents no revocation for 3LO apps, so the answer is recorded, never
   relied on (docs/cleanup.md);
3. in one transaction: drop both tokens, destroy the connection's data key
   (crypto-shredding: a copy of the sealed tokens in a backup can no longer be opened),
   mark the connection ``disconnected``, pause what still uses it, and audit it.

The admin is then asked to remove the app's grant in Atlassian's Connected apps too:
that is the one revocation Atlassian documents.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from jira import oauth_endpoints
from jira.errors import JiraError
from jira.meter import CallMeter
from keys.data_keys import DataKeyGone
from models.audit import record_audit
from models.connection_lifecycle import revoked_reason
from models.connections import Connection, tokens_of
from models.integrations import Integration
from runtime import Runtime
from sync.sites import connection_client

log = logging.getLogger(__name__)
ADMIN_ACTION = (
    "Tandem deleted its tokens for this site and destroyed their key. To withdraw the "
    "consent at Atlassian as well, remove Tandem under Connected apps "
    "(id.atlassian.com > Security > Connected apps, or admin.atlassian.com for the site)."
)


def disconnected_reason(site_url: str) -> str:
    """What an admin reads on a disconnected connection and what it paused."""
    return (
        f"{site_url} was disconnected from Tandem (its marks removed and its tokens "
        "destroyed); connect the site again in Tandem's admin page to sync with it."
    )


@dataclass(frozen=True)
class Disconnected:
    """What disconnecting one connection did."""

    connection: str
    site: str
    webhooks_deleted: int
    grant: str  # "revoked", "not_confirmed", "shared" (kept for another connection), "none"
    key_destroyed: bool


def connections_to_disconnect(
    runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID | None
) -> list[uuid.UUID]:
    """A workspace run: every connection not yet disconnected. An integration run: those
    of its ends that no other integration of the workspace uses (whatever its state)."""
    with runtime.db.tenant_session(tenant_id) as session:
        if integration_id is None:
            return list(
                session.execute(
                    select(Connection.id)
                    .where(Connection.status != "disconnected")
                    .order_by(Connection.id)
                ).scalars()
            )
        integration = session.get(Integration, integration_id)
        if integration is None:
            return []
        ends = {integration.source_connection_id, integration.target_connection_id} - {None}
        kept = []
        for connection_id in sorted(ends):
            others = session.execute(
                select(Integration.id).where(_uses(connection_id), Integration.id != integration_id)
            ).first()
            connection = session.get(Connection, connection_id)
            if others is None and connection is not None and connection.status != "disconnected":
                kept.append(connection_id)
        return kept


def _uses(connection_id: uuid.UUID) -> ColumnElement[bool]:
    return or_(
        Integration.source_connection_id == connection_id,
        Integration.target_connection_id == connection_id,
    )


def disconnect_connections(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    connection_ids: list[uuid.UUID],
    actor: str,
    run_id: str,
) -> list[dict[str, object]]:
    """Disconnect the connections (see the module docstring); what each took. Every
    site's webhooks go first: revoking a grant two sites share stops both tokens."""
    deleted = {cid: _delete_webhooks(runtime, tenant_id, cid) for cid in connection_ids}
    done = []
    for connection_id in connection_ids:
        grant = _revoke_grant(runtime, tenant_id, connection_id, set(connection_ids))
        outcome = _shred(runtime, tenant_id, connection_id, actor, run_id, deleted, grant)
        if outcome is not None:
            done.append(asdict(outcome))
    return done


def _shred(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    actor: str,
    run_id: str,
    deleted: dict[uuid.UUID, int],
    grant: str,
) -> Disconnected | None:
    """Drop the tokens, destroy the key, mark it disconnected; None if it already was."""
    with runtime.db.tenant_session(tenant_id) as session:
        connection = session.get(Connection, connection_id, with_for_update=True)
        if connection is None or connection.status == "disconnected":
            return None
        reason = disconnected_reason(connection.site_url)
        stale = {None, revoked_reason(connection.site_url)}
        for integration in session.execute(
            select(Integration).where(_uses(connection_id)).with_for_update()
        ).scalars():
            if integration.paused_reason in stale:
                integration.paused_reason = reason
        connection.status = "disconnected"
        connection.status_reason = reason
        connection.access_token = connection.refresh_token = None
        connection.token_expires_at = None
        connection.token_group = None  # shares nothing now: a group refresh passes it by
        connection.webhook_ids, connection.webhook_jql, connection.webhooks_expire_at = (
            [],
            None,
            None,
        )
        destroyed = _destroy_key(runtime, session, connection.data_key_id)
        outcome = Disconnected(
            str(connection_id), connection.site_url, deleted.get(connection_id, 0), grant, destroyed
        )
        record_audit(
            session,
            tenant_id,
            actor,
            "connection.disconnected",
            subject=str(connection_id),
            run=run_id,
            site_url=connection.site_url,
            cloud_id=connection.cloud_id,
            webhooks_deleted=outcome.webhooks_deleted,
            grant=grant,
            data_key=str(connection.data_key_id),
            data_key_destroyed=destroyed,
        )
    return outcome


def _delete_webhooks(runtime: Runtime, tenant_id: uuid.UUID, connection_id: uuid.UUID) -> int:
    """Delete Tandem's dynamic webhooks on an active connection's site; how many (0 if
    none, or if that failed: they stop with the grant and expire within 30 days)."""
    with runtime.db.tenant_session(tenant_id) as session:
        connection = session.get(Connection, connection_id)
        if connection is None or connection.status != "active" or not connection.webhook_ids:
            return 0
        ids = [int(i) for i in connection.webhook_ids]
    try:
        with runtime.db.tenant_session(tenant_id) as session:
            client, _site = connection_client(runtime, session, connection_id, CallMeter())
        client.call("delete_webhooks", json={"webhookIds": ids})
    except JiraError as error:
        log.info("connection %s: webhooks not deleted (%s)", connection_id, error)
        return 0
    return len(ids)


def _revoke_grant(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    leaving: set[uuid.UUID] | frozenset[uuid.UUID],
) -> str:
    with runtime.db.tenant_session(tenant_id) as session:
        connection = session.get(Connection, connection_id)
        if connection is None or connection.refresh_token is None:
            return "none"
        if connection.token_group is not None:
            sharing = session.execute(
                select(Connection.id).where(
                    Connection.token_group == connection.token_group,
                    Connection.id != connection_id,
                    Connection.status == "active",
                )
            ).scalars()
            if set(sharing) - set(leaving):
                return "shared"
        try:
            refresh_token = tokens_of(session, runtime.keys, connection)[1]
        except (LookupError, DataKeyGone):
            return "none"
    if not runtime.settings.oauth_configured:
        return "not_confirmed"
    revoked = oauth_endpoints.revoke(runtime.settings, runtime.jira_http, refresh_token)
    if not revoked:
        log.warning("connection %s: Atlassian did not confirm the revocation", connection_id)
    return "revoked" if revoked else "not_confirmed"


def _destroy_key(runtime: Runtime, session: Session, key_id: uuid.UUID) -> bool:
    try:
        runtime.keys.destroy(session, key_id)
    except DataKeyGone:
        return False
    return True
