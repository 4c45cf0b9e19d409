"""Turning integrations on and off: enabling starts the backfill of existing issues."""

from __future__ import annotations

import uuid

from models.audit import record_audit
from models.integrations import Integration
from runtime import Runtime
from sync.backfill import start_backfill
from sync.connection_jobs import integration_saved


def set_enabled(
    runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID, enabled: bool, actor: str
) -> None:
    """Enable (and backfill) or disable an integration; audited."""
    with runtime.db.tenant_session(tenant_id) as session:
        integration = session.get(Integration, integration_id)
        if integration is None:
            raise LookupError("no such integration")
        was = integration.enabled
        integration.enabled = enabled
        record_audit(
            session,
            tenant_id,
            actor,
            "integration.enabled" if enabled else "integration.disabled",
            subject=str(integration_id),
        )
    if enabled != was:  # connected sites' dynamic webhooks follow the watched projects
        integration_saved(runtime, tenant_id, integration)
    if enabled and not was:
        start_backfill(runtime, tenant_id, integration_id)
