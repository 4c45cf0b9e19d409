"""Reconcile one issue with its mirror: read the source, compare each allowed field with
the hash last synced, and write only what differs. Level-triggered, so duplicate, late
and out-of-order events all end in the same state."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from jira.client import JiraClient
from jira.errors import JiraError, PermanentError
from jira.meter import CallMeter
from models.integrations import Integration
from models.links import IssueLink
from models.sync_attempts import record_attempt
from runtime import Runtime
from sync.fields import edit_payload, map_value, read_values, value_hash
from sync.markers import LINK_PROPERTY, SYNC_LABEL, link_property
from sync.sites import client_for, ends_of
from sync.transitions import move_to_status

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """What one reconcile found and did."""

    action: str = "noop"
    issue_key: str | None = None
    changed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    integration_id: uuid.UUID
    config: dict[str, Any]
    source_project: str
    target_project: str
    link: dict[str, Any] | None


def reconcile_issue(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    source_issue_id: str,
    attempt: int = 1,
) -> str:
    """Bring the mirror of ``source_issue_id`` in line; one sync_attempts row whatever
    happens. Returns the outcome; re-raises transient errors so the job retries."""
    started = time.monotonic()
    meter = CallMeter()
    plan = Plan()
    try:
        outcome, error = _reconcile(
            runtime, tenant_id, integration_id, source_issue_id, meter, plan
        )
    except JiraError as failure:
        outcome = "retrying" if failure.kind == "transient" else "failed"
        error = str(failure)
        _record(runtime, tenant_id, integration_id, plan, outcome, error, started, meter, attempt)
        if failure.kind == "transient":
            raise
        return outcome
    _record(runtime, tenant_id, integration_id, plan, outcome, error, started, meter, attempt)
    return outcome


def _record(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    plan: Plan,
    outcome: str,
    error: str | None,
    started: float,
    meter: CallMeter,
    attempt: int,
) -> None:
    record_attempt(
        runtime.db,
        tenant_id,
        integration_id=integration_id,
        issue_key=plan.issue_key,
        action=plan.action,
        outcome=outcome,
        error=error,
        details={"changed": plan.changed, "calls": dict(meter.by_call)},
        duration_ms=int((time.monotonic() - started) * 1000),
        attempt=attempt,
        api_calls=meter.calls,
        api_points=meter.points,
    )


def _reconcile(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    integration_id: uuid.UUID,
    source_issue_id: str,
    meter: CallMeter,
    plan: Plan,
) -> tuple[str, str | None]:
    with runtime.db.tenant_session(tenant_id) as session:
        integration = session.get(Integration, integration_id)
        if integration is None or not integration.enabled or integration.paused_reason:
            plan.action = "skip"
            return "skipped", "the integration is disabled or paused"
        (source_kind, source_id), (target_kind, target_id) = ends_of(integration)
        source, source_site = client_for(runtime, session, source_kind, source_id, meter)
        target, _ = client_for(runtime, session, target_kind, target_id, meter)
        link = session.execute(
            select(IssueLink).where(
                IssueLink.integration_id == integration_id,
                IssueLink.source_issue_id == source_issue_id,
            )
        ).scalar_one_or_none()
        context = Context(
            integration_id,
            integration.config,
            integration.source_project,
            integration.target_project,
            _link_view(link),
        )
    fields = context.config["fields"]
    issue = source.call(
        "get_issue",
        path_params={"key": source_issue_id},
        params={"fields": ",".join([*fields, "project", "labels", "updated"])},
    ).json()
    plan.issue_key = issue["key"]
    if issue["fields"]["project"]["key"] != context.source_project:
        plan.action = "skip"
        return "skipped", "the issue is not in the integration's source project"
    values = {
        name: map_value(name, value, context.config.get("mappings", {}))
        for name, value in read_values(issue, fields).items()
    }
    if context.link is None:
        _create_mirror(runtime, tenant_id, context, source_site, issue, values, target, plan)
    else:
        _update_mirror(runtime, tenant_id, context, values, target, plan)
    return ("ok" if plan.changed or plan.action == "create" else "skipped"), None


def _link_view(link: IssueLink | None) -> dict[str, Any] | None:
    if link is None:
        return None
    return {
        "id": link.id,
        "target_key": link.target_issue_key,
        "hashes": dict(link.field_hashes),
    }


def _create_mirror(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    context: Context,
    source_site: str,
    issue: dict[str, Any],
    values: dict[str, Any],
    target: JiraClient,
    plan: Plan,
) -> None:
    plan.action = "create"
    fields = edit_payload(values)
    fields.setdefault("issuetype", {"name": "Task"})
    fields.setdefault("summary", issue["fields"].get("summary") or issue["key"])
    fields["project"] = {"key": context.target_project}
    fields["labels"] = [SYNC_LABEL]
    created = target.call("create_issue", json={"fields": fields}).json()
    target.call(
        "set_property",
        path_params={"key": created["key"], "property": LINK_PROPERTY},
        json=link_property(str(context.integration_id), issue["key"], source_site),
    )
    if values.get("status") is not None:
        move_to_status(target, created["key"], values["status"], current=None)
    plan.changed = sorted(values)
    with runtime.db.tenant_session(tenant_id) as session:
        session.add(
            IssueLink(
                tenant_id=tenant_id,
                integration_id=context.integration_id,
                source_issue_id=issue["id"],
                source_issue_key=issue["key"],
                target_issue_id=created["id"],
                target_issue_key=created["key"],
                field_hashes={name: value_hash(value) for name, value in values.items()},
                last_synced_at=datetime.now(UTC),
            )
        )


def _update_mirror(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    context: Context,
    values: dict[str, Any],
    target: JiraClient,
    plan: Plan,
) -> None:
    assert context.link is not None
    plan.action = "update"
    hashes = context.link["hashes"]
    changed = {name: v for name, v in values.items() if hashes.get(name) != value_hash(v)}
    if not changed:
        return
    target_key = context.link["target_key"]
    payload = edit_payload(changed)
    if payload:
        target.call("edit_issue", path_params={"key": target_key}, json={"fields": payload})
    if "status" in changed and changed["status"] is not None:
        current = target.call(
            "get_issue", path_params={"key": target_key}, params={"fields": "status"}
        ).json()["fields"]["status"]["name"]
        if current != changed["status"]:
            move_to_status(target, target_key, changed["status"], current)
    plan.changed = sorted(changed)
    with runtime.db.tenant_session(tenant_id) as session:
        link = session.get(IssueLink, context.link["id"])
        if link is None:
            raise PermanentError("the link disappeared while syncing")
        link.field_hashes = {**hashes, **{n: value_hash(v) for n, v in changed.items()}}
        link.last_synced_at = datetime.now(UTC)
