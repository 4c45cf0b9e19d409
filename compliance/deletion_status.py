"""Where the workspace's deletion stands, for the delete-account page: the workspace's
name (the page asks for it as confirmation) and, while a deletion is scheduled, when it
was asked for and when it will happen (the grace period's end)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from models.deletion_requests import GRACE_PERIOD, scheduled_deletion
from models.tenants import Tenant
from runtime import Runtime


@dataclass(frozen=True)
class DeletionStatus:
    workspace_name: str
    requested_at: datetime | None = None
    delete_after: datetime | None = None
    grace_days: int = GRACE_PERIOD.days

    @property
    def scheduled(self) -> bool:
        return self.delete_after is not None


def deletion_status(runtime: Runtime, tenant_id: uuid.UUID) -> DeletionStatus:
    """The workspace's name and its scheduled deletion, if any."""
    with runtime.db.tenant_session(tenant_id) as session:
        tenant = session.get(Tenant, tenant_id)
        name = tenant.name if tenant is not None else ""
        request = scheduled_deletion(session)
        if request is None:
            return DeletionStatus(name)
        return DeletionStatus(name, request.requested_at, request.delete_after)
