"""Backfill: when an integration is enabled, mirror the issues that already exist.

Paged and resumable: the position is saved after every page, so an interrupted run
continues where it stopped; issues that already have a mirror are passed over, so each
is mirrored once. Progress (done/total) is on the integration for the pages to show."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from models.integrations import Integration
from models.links import IssueLink
from runtime import Runtime
from sync.dispatch import run_serialised
from sync.job_logs import job_meter, keep_raw_responses
from sync.reconcile import reconcile_issue
from sync.search import project_jql, search_page
from sync.sites import client_for, ends_of

ALL_SCOPES = ("attachments", "comments", "fields")


def start_backfill(runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID) -> None:
    """Reset the progress and enqueue the backfill job."""
    from sync.jobs import backfill_job

    with runtime.db.tenant_session(tenant_id) as session:
        integration = session.get(Integration, integration_id)
        if integration is None:
            raise LookupError("no such integration")
        integration.backfill_state = {
            "status": "running",
            "done": 0,
            "total": None,
            "cursor": None,
            "started_at": datetime.now(UTC).isoformat(),
        }
    runtime.queue("sync").enqueue(
        backfill_job, str(tenant_id), str(integration_id), job_id=f"backfill-{integration_id}"
    )


def _state(runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID) -> dict[str, Any]:
    with runtime.db.tenant_session(tenant_id) as session:
        integration = session.get(Integration, integration_id)
        return dict(integration.backfill_state) if integration else {}


def _save(
    runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID, state: dict[str, Any]
) -> None:
    with runtime.db.tenant_session(tenant_id) as session:
        integration = session.get(Integration, integration_id)
        if integration is not None:
            integration.backfill_state = state


def run_backfill_page(runtime: Runtime, tenant_id: uuid.UUID, integration_id: uuid.UUID) -> bool:
    """Mirror one page of pre-existing issues; True while more pages remain."""
    state = _state(runtime, tenant_id, integration_id)
    if state.get("status") != "running":
        return False
    meter = job_meter(runtime, tenant_id)
    with runtime.db.tenant_session(tenant_id) as session:
        integration = session.get(Integration, integration_id)
        if integration is None or not integration.enabled or integration.paused_reason:
            return False
        (kind, end_id), _ = ends_of(integration)
        client, _ = client_for(runtime, session, kind, end_id, meter)
        jql = project_jql(integration.source_project, integration.config.get("jql", ""))
    if state.get("total") is None:
        state["total"] = client.call("count_issues", json={"jql": jql}).json()["count"]
    issues, cursor = search_page(client, jql, state.get("cursor"), fields=("summary",))
    keep_raw_responses(runtime, tenant_id, meter)
    with runtime.db.tenant_session(tenant_id) as session:
        linked = set(
            session.execute(
                select(IssueLink.source_issue_id).where(
                    IssueLink.integration_id == integration_id,
                    IssueLink.source_issue_id.in_([str(i["id"]) for i in issues]),
                )
            ).scalars()
        )
    for issue in issues:
        issue_id = str(issue["id"])
        if issue_id not in linked:
            run_serialised(
                runtime,
                tenant_id,
                integration_id,
                "source",
                issue_id,
                lambda scopes, event, issue_id=issue_id: reconcile_issue(
                    runtime, tenant_id, integration_id, issue_id, scopes=ALL_SCOPES
                ),
                hand_on=False,  # held by an event's reconcile, which mirrors it
            )
        state["done"] = int(state.get("done") or 0) + 1
    state["cursor"] = cursor
    if not cursor:
        state["status"] = "done"
        state["finished_at"] = datetime.now(UTC).isoformat()
    _save(runtime, tenant_id, integration_id, state)
    return bool(cursor)
