"""Connecting, reconnecting and losing OAuth-connected sites: the connection rows, their
sealed tokens, the directory entry, the integrations they pause or resume, and the audit.

Every connection made by one consent shares one token pair (``token_group``): Atlassian
rotates the refresh token on every use, so the group is refreshed and rewritten as one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jira.oauth_endpoints import Site, TokenSet
from keys.data_keys import KeyService
from models.audit import record_audit
from models.connections import Connection, create_connection, store_tokens
from models.db import Database
from models.integrations import Integration
from models.tenants import register_directory_key

CLOUD_ID = "cloud_id"


def revoked_reason(site_url: str) -> str:
    """What an admin reads on a connection and its paused integrations after revocation."""
    return (
        f"The OAuth grant for {site_url} was revoked or has expired; "
        "reconnect the site in Tandem's admin page."
    )


@dataclass
class ConnectOutcome:
    """Which sites were connected (and whether as a reconnect) and which were refused."""

    connected: list[tuple[uuid.UUID, Site, bool]] = field(default_factory=list)
    refused: list[tuple[Site, str]] = field(default_factory=list)
    resumed: list[uuid.UUID] = field(default_factory=list)


def connect_sites(
    db: Database,
    keys: KeyService,
    tenant_id: uuid.UUID,
    installation_id: uuid.UUID,
    grant: TokenSet,
    sites: list[Site],
    actor: str = "admin",
) -> ConnectOutcome:
    """Create or update one connection per site, all sharing the grant's sealed tokens, in
    one transaction. A site already registered to another workspace is refused (its
    webhooks could not be routed here)."""
    outcome = ConnectOutcome()
    owners = {site.cloud_id: db.directory_lookup(CLOUD_ID, site.cloud_id) for site in sites}
    group = uuid.uuid4()
    with db.tenant_session(tenant_id) as session:
        for site in sites:
            owner = owners[site.cloud_id]
            if owner is not None and owner != tenant_id:
                outcome.refused.append(
                    (site, "this site is already connected to another Tandem workspace")
                )
                continue
            if (
                owner is None
                and not _register_cloud_id(session, site.cloud_id)
                and db.directory_lookup(CLOUD_ID, site.cloud_id) != tenant_id
            ):
                outcome.refused.append((site, "another Tandem workspace connected it first"))
                continue
            connection_id, reconnected, resumed = _upsert(
                session, keys, tenant_id, installation_id, grant, site, group, actor
            )
            outcome.connected.append((connection_id, site, reconnected))
            outcome.resumed += resumed
    return outcome


def _register_cloud_id(session: Session, cloud_id: str) -> bool:
    """Map the site's cloud id to this tenant; False if someone registered it meanwhile."""
    try:
        with session.begin_nested():
            register_directory_key(session, CLOUD_ID, cloud_id)
    except IntegrityError:
        return False
    return True


def _upsert(
    session: Session,
    keys: KeyService,
    tenant_id: uuid.UUID,
    installation_id: uuid.UUID,
    grant: TokenSet,
    site: Site,
    group: uuid.UUID,
    actor: str,
) -> tuple[uuid.UUID, bool, list[uuid.UUID]]:
    connection = session.execute(
        select(Connection).where(Connection.cloud_id == site.cloud_id).with_for_update()
    ).scalar_one_or_none()
    reconnected = connection is not None
    previous_reason = None
    if connection is None:
        connection = create_connection(session, keys, site.cloud_id, site.url)
    elif connection.status != "active":
        previous_reason = connection.status_reason
    if connection.status == "disconnected":  # its key was destroyed: a new consent, a new key
        connection.data_key_id = keys.create(session, tenant_id, "connection", connection.id).key_id
    connection.installation_id = installation_id
    connection.site_url = site.url
    connection.scopes = " ".join(grant.scopes)
    connection.status = "active"
    connection.status_reason = None
    connection.token_group = group
    store_tokens(
        session, keys, connection, grant.access_token, grant.refresh_token, grant.expires_at
    )
    resumed = _resume_integrations(session, connection.id, previous_reason)
    record_audit(
        session,
        tenant_id,
        actor,
        "connection.reconnected" if reconnected else "connection.connected",
        subject=str(connection.id),
        site_url=site.url,
        cloud_id=site.cloud_id,
        scopes=list(grant.scopes),
        resumed_integrations=[str(i) for i in resumed],
    )
    return connection.id, reconnected, resumed


def _uses(connection_id: uuid.UUID) -> ColumnElement[bool]:
    return or_(
        Integration.source_connection_id == connection_id,
        Integration.target_connection_id == connection_id,
    )


def _resume_integrations(
    session: Session, connection_id: uuid.UUID, previous_reason: str | None
) -> list[uuid.UUID]:
    """Clear the pause this connection's loss caused, unless the integration's other end
    is itself a connection that is still not active (then that one's reason stays)."""
    if previous_reason is None:
        return []
    resumed = []
    paused = session.execute(
        select(Integration)
        .where(_uses(connection_id), Integration.paused_reason == previous_reason)
        .with_for_update()
    ).scalars()
    for integration in paused:
        others = {integration.source_connection_id, integration.target_connection_id}
        others.discard(None)
        others.discard(connection_id)
        still_down = [
            c.status_reason
            for c in (session.get(Connection, other) for other in others)
            if c is not None and c.status != "active"
        ]
        integration.paused_reason = still_down[0] if still_down else None
        if integration.paused_reason is None:
            resumed.append(integration.id)
    session.flush()
    return resumed


def lock_token_group(session: Session, connection_id: uuid.UUID) -> list[Connection]:
    """Lock (``FOR UPDATE``, in id order) the connection and every connection sharing its
    token pair; the asked-for connection comes first. Empty if it does not exist."""
    for _ in range(3):  # a reconnect may move it to a new group between the two reads
        group = session.execute(
            select(Connection.token_group).where(Connection.id == connection_id)
        ).one_or_none()
        if group is None:
            return []
        same = (
            Connection.token_group == group[0]
            if group[0] is not None
            else Connection.id == connection_id
        )
        rows = list(
            session.execute(
                select(Connection)
                .where(same)
                .order_by(Connection.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).scalars()
        )
        if any(row.id == connection_id for row in rows):
            return sorted(rows, key=lambda row: row.id != connection_id)
    raise RuntimeError("the connection kept moving between token groups")


def revoke_group(
    session: Session, connections: list[Connection], cause: str, actor: str = "tandem"
) -> list[uuid.UUID]:
    """Mark connections whose grant is gone ``revoked`` with a reason in plain words, drop
    their dead tokens, pause every integration using them, and audit it. Returns the
    integrations paused."""
    paused: list[uuid.UUID] = []
    for connection in connections:
        reason = revoked_reason(connection.site_url)
        connection.status = "revoked"
        connection.status_reason = reason
        connection.access_token = None
        connection.refresh_token = None
        connection.token_expires_at = None
        now_paused = list(
            session.execute(
                select(Integration)
                .where(_uses(connection.id), Integration.paused_reason.is_(None))
                .with_for_update()
            ).scalars()
        )
        for integration in now_paused:
            integration.paused_reason = reason
        paused += [integration.id for integration in now_paused]
        record_audit(
            session,
            connection.tenant_id,
            actor,
            "connection.revoked",
            subject=str(connection.id),
            site_url=connection.site_url,
            cloud_id=connection.cloud_id,
            cause=cause,
            paused_integrations=[str(i.id) for i in now_paused],
        )
    session.flush()
    return paused


def webhook_tenant(db: Database, cloud_id: str, connection_id: uuid.UUID) -> uuid.UUID | None:
    """The tenant of a dynamic-webhook delivery: the cloud id's tenant (directory), if the
    connection in the URL is that tenant's connection to that same site."""
    tenant_id = db.directory_lookup(CLOUD_ID, cloud_id)
    if tenant_id is None:
        return None
    with db.tenant_session(tenant_id) as session:
        connection = session.get(Connection, connection_id)
        if connection is None or connection.cloud_id != cloud_id:
            return None
    return tenant_id
