"""What a person asks for one link from the issue panel: "Sync now" (a reconcile of the
link, queued the way events queue one) and "Unlink" (compliance/unlink.py)."""

from __future__ import annotations

import uuid

from models.audit import record_audit
from runtime import Runtime
from sync.dispatch import request_reconcile
from sync.drift import ALL_SCOPES
from sync.issue_state import IssueRef, find_link_of_issue


class LinkNotFound(LookupError):
    """The link is not one of this issue's links (or not this workspace's)."""


class LinkRefused(ValueError):
    """The link cannot take this request; the message says why in plain words."""


def request_link_sync(
    runtime: Runtime, tenant_id: uuid.UUID, issue: IssueRef, link_id: uuid.UUID, actor: str
) -> bool:
    """Queue a full reconcile (fields, comments, attachments) of the issue's link; audited.
    False when a queued reconcile already covers it (the request joins that one)."""
    with runtime.db.tenant_session(tenant_id) as session:
        found = find_link_of_issue(session, issue, link_id)
        if found is None:
            raise LinkNotFound("no such link on this issue")
        link, integration, _ = found
        if link.state != "active":
            raise LinkRefused("the other issue was deleted, so there is nothing to sync with")
        record_audit(
            session,
            tenant_id,
            actor,
            "issue_link.sync_requested",
            subject=str(link.id),
            integration=str(integration.id),
            source=link.source_issue_key,
            target=link.target_issue_key,
        )
        integration_id, source_issue = integration.id, link.source_issue_id
    # The source side's reconcile reads both issues of a two-way link.
    return request_reconcile(runtime, tenant_id, integration_id, source_issue, "source", ALL_SCOPES)
