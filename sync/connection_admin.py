"""The connected sites as the admin pages show them (status, what they were granted,
what uses them), the installation a new consent starts from, and disconnecting one site
(compliance/disconnect.py: its webhooks deleted, its grant revoked, its tokens dropped
and their key destroyed, what uses it paused; audited)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from compliance.disconnect import disconnect_connections
from jira.calls import oauth_scopes
from models.connections import Connection
from models.installations import Installation
from models.integrations import Integration
from runtime import Runtime
from sync.sites import ACTIVE


@dataclass(frozen=True)
class ConnectionView:
    """One connected site."""

    id: uuid.UUID
    site_url: str
    status: str
    status_reason: str | None
    missing_scopes: list[str]
    integrations: list[str]
    connected_at: datetime


def list_connections(runtime: Runtime, tenant_id: uuid.UUID) -> list[ConnectionView]:
    """Every connected site of the workspace, by URL."""
    wanted = set(oauth_scopes())
    with runtime.db.tenant_session(tenant_id) as session:
        uses: dict[uuid.UUID, list[str]] = {}
        for row in session.execute(select(Integration).order_by(Integration.name)).scalars():
            for end in {row.source_connection_id, row.target_connection_id} - {None}:
                uses.setdefault(end, []).append(row.name)
        return [
            ConnectionView(
                id=row.id,
                site_url=row.site_url,
                status=row.status,
                status_reason=row.status_reason,
                missing_scopes=sorted(wanted - set(row.scopes.split()))
                if row.status == "active"
                else [],
                integrations=uses.get(row.id, []),
                connected_at=row.created_at,
            )
            for row in session.execute(select(Connection).order_by(Connection.site_url)).scalars()
        ]


def consent_installation(runtime: Runtime, tenant_id: uuid.UUID) -> uuid.UUID | None:
    """The installation a consent started from the dashboard names (the workspace's
    oldest active one), or None when the workspace has none."""
    with runtime.db.tenant_session(tenant_id) as session:
        return session.execute(
            select(Installation.id)
            .where(Installation.status.in_(ACTIVE))
            .order_by(Installation.created_at)
            .limit(1)
        ).scalar_one_or_none()


def disconnect(
    runtime: Runtime, tenant_id: uuid.UUID, connection_id: uuid.UUID, actor: str
) -> dict[str, Any]:
    """Disconnect one connected site now; what it took. LookupError when the workspace
    has no such connection or it is already disconnected."""
    with runtime.db.tenant_session(tenant_id) as session:
        found = session.execute(
            select(Connection.status).where(
                Connection.id == connection_id, Connection.status != "disconnected"
            )
        ).scalar_one_or_none()
    if found is None:
        raise LookupError("no such connected site in this workspace (or it is disconnected)")
    done = disconnect_connections(
        runtime, tenant_id, [connection_id], actor, run_id=f"admin-{uuid.uuid4()}"
    )
    return done[0] if done else {}
