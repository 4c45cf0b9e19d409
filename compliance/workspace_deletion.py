"""Requesting and cancelling a workspace's deletion from Tandem itself (the dashboard's
workspace page, support tools). The Connect lifecycle does the same on uninstall and
re-install (models/lifecycle.py). Either way the notices follow the commit
(compliance/deletion_notices.py), and the sweeper deletes after the grace period."""

from __future__ import annotations

import uuid
from datetime import datetime

from models.audit import record_audit
from models.db import as_tenant_id
from models.deletion_requests import cancel_deletion, schedule_deletion, scheduled_deletion
from runtime import Runtime

REQUESTED_REASON = "requested by a workspace administrator"


def request_workspace_deletion(
    runtime: Runtime, tenant_id: uuid.UUID | str, actor: str, reason: str = REQUESTED_REASON
) -> datetime:
    """Schedule the workspace's deletion after the grace period (audited as
    ``deletion.requested``); when it will happen. Asking again changes nothing."""
    tenant = as_tenant_id(tenant_id)
    with runtime.db.tenant_session(tenant) as session:
        existing = scheduled_deletion(session)
        if existing is not None:
            return existing.delete_after
        request = schedule_deletion(session, reason)
        record_audit(
            session,
            tenant,
            actor,
            "deletion.requested",
            subject=str(request.id),
            delete_after=request.delete_after.isoformat(),
        )
    return request.delete_after


def cancel_workspace_deletion(runtime: Runtime, tenant_id: uuid.UUID | str, actor: str) -> bool:
    """Cancel the workspace's scheduled deletion (audited as ``deletion.cancelled``);
    False if none was scheduled."""
    tenant = as_tenant_id(tenant_id)
    with runtime.db.tenant_session(tenant) as session:
        cancelled = cancel_deletion(session)
        if cancelled:
            record_audit(session, tenant, actor, "deletion.cancelled", subject=None)
    return cancelled
