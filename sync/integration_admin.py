"""The integrations as the admin pages show and change them: a summary of each (its two
ends, what it mirrors, whether it runs, where its backfill stands), creating and editing
(validated by models/integration_config.py, audited), and the backfill's progress."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import record_audit
from models.connections import Connection
from models.installations import Installation
from models.integration_config import create_integration, integration_document, update_integration
from models.integrations import Integration
from runtime import Runtime
from sync.connection_jobs import integration_saved
from sync.integrations import set_enabled
from sync.sites import ends_of


@dataclass(frozen=True)
class Backfill:
    """Where mirroring the issues that existed before an integration was enabled stands."""

    status: str  # "none", "running" or "done"
    done: int = 0
    total: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "done": self.done, "total": self.total}


@dataclass(frozen=True)
class IntegrationSummary:
    """One integration, as the list shows it."""

    id: uuid.UUID
    name: str
    source_site: str
    source_project: str
    target_site: str
    target_project: str
    direction: str
    fields: list[str]
    enabled: bool
    paused_reason: str | None
    backfill: Backfill = field(default_factory=lambda: Backfill("none"))


def backfill_of(integration: Integration) -> Backfill:
    state = integration.backfill_state or {}
    if not state.get("status"):
        return Backfill("none")
    total = state.get("total")
    return Backfill(
        str(state["status"]), int(state.get("done") or 0), int(total) if total else total
    )


def _site_urls(session: Session) -> dict[uuid.UUID, str]:
    urls = {
        row.id: row.base_url
        for row in session.execute(select(Installation.id, Installation.base_url))
    }
    urls.update(
        {
            row.id: row.site_url
            for row in session.execute(select(Connection.id, Connection.site_url))
        }
    )
    return urls


def list_integrations(runtime: Runtime, tenant_id: uuid.UUID) -> list[IntegrationSummary]:
    """Every integration of the workspace, by name."""
    with runtime.db.tenant_session(tenant_id) as session:
        urls = _site_urls(session)
        rows = session.execute(select(Integration).order_by(Integration.name, Integration.id))
        summaries = []
        for row in rows.scalars():
            (_, source_id), (_, target_id) = ends_of(row)
            summaries.append(
                IntegrationSummary(
                    id=row.id,
                    name=row.name,
                    source_site=urls.get(source_id, "a removed site"),
                    source_project=row.source_project,
                    target_site=urls.get(target_id, "a removed site"),
                    target_project=row.target_project,
                    direction=str(row.config.get("direction", "one_way")),
                    fields=list(row.config.get("fields", [])),
                    enabled=row.enabled,
                    paused_reason=row.paused_reason,
                    backfill=backfill_of(row),
                )
            )
    return summaries


def load_integration(
    runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID
) -> tuple[dict[str, Any], bool]:
    """(the integration's document, whether it is enabled); LookupError if not the
    workspace's."""
    with runtime.db.tenant_session(tenant_id) as session:
        found = session.get(Integration, integration_id)
        if found is None:
            raise LookupError("no such integration in this workspace")
        return integration_document(found), found.enabled


def backfill_progress(
    runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID
) -> Backfill | None:
    """The integration's backfill, or None if it is not the workspace's."""
    with runtime.db.tenant_session(tenant_id) as session:
        found = session.get(Integration, integration_id)
        return backfill_of(found) if found is not None else None


def create(
    runtime: Runtime, tenant_id: uuid.UUID, document: dict[str, Any], actor: str, enable: bool
) -> uuid.UUID:
    """Create an integration (audited); ``enable`` then starts it and its backfill.
    InvalidPayload names the offending field."""
    with runtime.db.tenant_session(tenant_id) as session:
        integration = create_integration(session, {**document, "enabled": False})
        record_audit(
            session,
            tenant_id,
            actor,
            "integration.created",
            subject=str(integration.id),
            source_project=integration.source_project,
            target_project=integration.target_project,
            fields=document.get("fields"),
            direction=document.get("direction"),
        )
        integration_id = integration.id
    if enable:
        set_enabled(runtime, tenant_id, integration_id, True, actor)
    return integration_id


def update(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    document: dict[str, Any],
    actor: str,
) -> list[str]:
    """Apply an edited document (audited with the names of what changed); LookupError
    for an integration that is not the workspace's, InvalidPayload for a bad document."""
    with runtime.db.tenant_session(tenant_id) as session:
        integration = session.get(Integration, integration_id, with_for_update=True)
        if integration is None:
            raise LookupError("no such integration in this workspace")
        changed = update_integration(session, integration, document)
        if changed:
            record_audit(
                session,
                tenant_id,
                actor,
                "integration.updated",
                str(integration_id),
                changed=changed,
            )
    if changed and integration.enabled:  # a connected end's webhooks follow its JQL
        integration_saved(runtime, tenant_id, integration)
    return changed
