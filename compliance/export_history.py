"""Exports as the export page asks for them: starting one (audited as
``export.requested``, whose subject is the job id) and finding the workspace's newest,
from that audit trail, so the page shows it to whoever opens it next."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from compliance.export_requests import ExportStatus, export_status, start_export
from models.audit import AuditEvent, record_audit
from runtime import Runtime

REQUESTED = "export.requested"


def request_export(runtime: Runtime, tenant_id: uuid.UUID, actor: str) -> str:
    """Queue an export of the workspace; its job id."""
    job_id = start_export(runtime, tenant_id)
    with runtime.db.tenant_session(tenant_id) as session:
        record_audit(session, tenant_id, actor, REQUESTED, subject=job_id)
    return job_id


def latest_export(runtime: Runtime, tenant_id: uuid.UUID) -> ExportStatus | None:
    """The newest export the workspace asked for, while its job is still known (a day)."""
    with runtime.db.tenant_session(tenant_id) as session:
        job_id = session.execute(
            select(AuditEvent.subject)
            .where(AuditEvent.action == REQUESTED)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    return export_status(runtime, tenant_id, job_id) if job_id else None
