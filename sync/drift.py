"""Drift reconciliation: the clock looks for issues updated since the last look (with an
overlap) and reconciles them, which repairs any webhook that was lost."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from models.integrations import Integration
from runtime import Runtime
from sync.dispatch import request_reconcile
from sync.job_logs import job_meter, keep_raw_responses
from sync.search import project_jql, search_all
from sync.sites import client_for, ends_of

OVERLAP = timedelta(minutes=2)
FIRST_LOOK = timedelta(hours=1)
ALL_SCOPES = ("attachments", "comments", "fields")


def integrations_to_check(runtime: Runtime) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant, integration) of every enabled integration, tenant by tenant."""
    with runtime.maintenance_engine().connect() as connection:
        tenants = (
            connection.execute(text("SELECT id FROM tenants WHERE status = 'active'"))
            .scalars()
            .all()
        )
    found: list[tuple[uuid.UUID, uuid.UUID]] = []
    for tenant_id in tenants:
        with runtime.db.tenant_session(tenant_id) as session:
            found += [
                (tenant_id, integration_id)
                for integration_id in session.execute(
                    select(Integration.id).where(
                        Integration.enabled.is_(True), Integration.paused_reason.is_(None)
                    )
                ).scalars()
            ]
    return found


def check_drift(runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID) -> int:
    """Reconcile the issues updated since the watermark; returns how many were queued."""
    started = datetime.now(UTC)
    meter = job_meter(runtime, tenant_id)
    with runtime.db.tenant_session(tenant_id) as session:
        integration = session.get(Integration, integration_id)
        if integration is None or not integration.enabled or integration.paused_reason:
            return 0
        since = integration.drift_watermark or started - FIRST_LOOK
        minutes = math.ceil((started - since + OVERLAP).total_seconds() / 60)
        sides = [("source", *ends_of(integration)[0], integration.source_project)]
        if integration.config.get("direction") == "two_way":
            sides.append(("target", *ends_of(integration)[1], integration.target_project))
        clients = [
            (side, client_for(runtime, session, kind, end_id, meter)[0], project)
            for side, kind, end_id, project in sides
        ]
        extra = integration.config.get("jql", "")
    queued = 0
    for side, client, project in clients:
        jql = project_jql(
            project,
            f"updated >= -{minutes}m" + (f" AND ({extra})" if extra else ""),
            "ORDER BY updated ASC",
        )
        for issue in search_all(client, jql):
            request_reconcile(
                runtime, tenant_id, integration_id, str(issue["id"]), side, ALL_SCOPES
            )
            queued += 1
    keep_raw_responses(runtime, tenant_id, meter)
    with runtime.db.tenant_session(tenant_id) as session:
        integration = session.get(Integration, integration_id)
        if integration is not None:
            integration.drift_watermark = started
    return queued
