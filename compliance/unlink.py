"""Unlink one pair of issues: Tandem stops syncing them and removes the marks it left on
both (the sync labels, the link property, the attribution paragraphs of its comment
copies), using the same finding and removal as Disconnect & clean up.

The link row stays, in state ``unlinked``: the engine then never mirrors either issue
again (a reconcile of either skips, instead of creating a second mirror), and the audit
trail keeps naming the pair. The state is set before the marks are removed, so no
reconcile that starts meanwhile writes new ones; if removing fails, the link is active
again and the person can retry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from compliance.cleanup_markers import KINDS, IssueEnd, inspect, remove
from jira.errors import AuthorizationError
from jira.meter import CallMeter
from models.audit import record_audit
from models.links import CommentLink, IssueLink
from runtime import Runtime
from sync.issue_state import IssueRef, find_link_of_issue
from sync.link_requests import LinkNotFound, LinkRefused
from sync.sites import client_for, ends_of

SIDES = ("source", "target")


@dataclass
class _Unlinking:
    """A link just marked unlinked: its issues on the sites Tandem can reach."""

    integration_id: str
    keys: dict[str, str]
    previous_state: str
    ends: list[IssueEnd] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)


def _mark_unlinked(
    runtime: Runtime, tenant_id: uuid.UUID, issue: IssueRef, link_id: uuid.UUID
) -> _Unlinking:
    """Mark the issue's link unlinked; what removing its marks needs."""
    with runtime.db.tenant_session(tenant_id) as session:
        found = find_link_of_issue(session, issue, link_id)
        if found is None:
            raise LinkNotFound("no such link on this issue")
        link, integration, _ = found
        if link.state == "unlinked":
            raise LinkRefused("the issues are already unlinked")
        copies: dict[str, set[str]] = {side: set() for side in SIDES}
        for copy in session.execute(
            select(CommentLink).where(CommentLink.issue_link_id == link.id)
        ).scalars():
            # A comment written on one side has its copy, with the attribution, on the other.
            side = "target" if copy.origin == "source" else "source"
            copy_id = copy.target_comment_id if side == "target" else copy.source_comment_id
            if copy_id:
                copies[side].add(copy_id)
        unlinking = _Unlinking(
            str(integration.id),
            {"source": link.source_issue_key, "target": link.target_issue_key},
            link.state,
        )
        for side, (kind, end_id) in zip(SIDES, ends_of(integration), strict=True):
            try:
                client, site = client_for(runtime, session, kind, end_id, CallMeter())
            except AuthorizationError:
                unlinking.unreachable.append(side)
                continue
            unlinking.ends.append(
                IssueEnd(
                    site=site,
                    client=client,
                    issue_id=getattr(link, f"{side}_issue_id"),
                    copy_ids=frozenset(copies[side]),
                    source_deleted=link.state == "deleted",
                )
            )
        link.state = "unlinked"
        return unlinking


def unlink_issues(
    runtime: Runtime, tenant_id: uuid.UUID, issue: IssueRef, link_id: uuid.UUID, actor: str
) -> dict[str, Any]:
    """Unlink the issue's link and strip Tandem's marks from both issues; audited with
    the counts removed. Returns {"removed": {site: {kind: n}}, "unreachable": [side]}."""
    unlinking = _mark_unlinked(runtime, tenant_id, issue, link_id)
    removed: dict[str, dict[str, int]] = {}
    try:
        for end in unlinking.ends:
            found = inspect(end, unlinking.integration_id)
            if found is None:  # the issue is gone: nothing of ours is left on it
                continue
            remove(end, found)
            row = removed.setdefault(end.site, dict.fromkeys(KINDS, 0))
            for kind, count in found.counts().items():
                row[kind] += count
    except Exception:
        with runtime.db.tenant_session(tenant_id) as session:
            link = session.get(IssueLink, link_id)
            if link is not None:
                link.state = unlinking.previous_state
        raise
    with runtime.db.tenant_session(tenant_id) as session:
        record_audit(
            session,
            tenant_id,
            actor,
            "issue_link.unlinked",
            subject=str(link_id),
            integration=unlinking.integration_id,
            source=unlinking.keys["source"],
            target=unlinking.keys["target"],
            removed=removed,
            unreachable=unlinking.unreachable,
        )
    return {"removed": removed, "unreachable": unlinking.unreachable}
