"""The sync state of one issue as the issue panel shows it: each mirror (the other issue
of each link, on its site), when it was last synced and how, and the last error in plain
words."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from models.connections import Connection
from models.db import Database
from models.installations import Installation
from models.integrations import Integration
from models.links import IssueLink
from models.sync_attempts import SyncAttempt
from sync.error_words import error_words, outcome_words
from sync.sites import ends_of

SHOWN_STATES = ("active", "deleted")  # an unlinked pair is no longer this issue's mirror


@dataclass(frozen=True)
class Mirror:
    """One link of the issue, seen from the issue's side."""

    link_id: str
    integration: str
    direction: str  # how changes travel, seen from this issue
    side: str  # "source" or "target": this issue's side of the link
    other_key: str
    other_url: str
    state: str
    last_synced_at: str | None  # ISO 8601, UTC: when a change was last copied
    last_synced: str  # the same for people
    last_attempt_id: int | None
    last_attempt_at: str | None
    last_attempt: str
    outcome: str | None
    outcome_words: str
    error: str | None  # the last attempt's error in plain words (failed or retrying)
    note: str | None  # why the last attempt was skipped, in plain words

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IssueRef:
    """An issue of a Jira site that installed Tandem: which installation, which issue."""

    installation_id: uuid.UUID
    issue_id: str | None = None
    issue_key: str | None = None


def _when(moment: datetime | None) -> tuple[str | None, str]:
    if moment is None:
        return None, "never"
    return moment.isoformat(), moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _is_this(issue_id: Any, issue_key: Any, issue: IssueRef) -> Any:
    """The issue's id equals ``issue_id`` (or, when only its key is known, its key equals
    ``issue_key``): columns make a SQL condition, values a bool."""
    return issue_id == issue.issue_id if issue.issue_id else issue_key == issue.issue_key


def links_of_issue(session: Session, issue: IssueRef) -> list[tuple[IssueLink, Integration, str]]:
    """(link, integration, this issue's side) for every shown link of the issue on its
    installation's site (issue ids are per site, so the side's end must be this site)."""
    here = issue.installation_id
    as_source = and_(
        Integration.source_installation_id == here,
        _is_this(IssueLink.source_issue_id, IssueLink.source_issue_key, issue),
    )
    as_target = and_(
        Integration.target_installation_id == here,
        _is_this(IssueLink.target_issue_id, IssueLink.target_issue_key, issue),
    )
    rows = session.execute(
        select(IssueLink, Integration)
        .join(Integration, Integration.id == IssueLink.integration_id)
        .where(or_(as_source, as_target), IssueLink.state.in_(SHOWN_STATES))
        .order_by(IssueLink.created_at, IssueLink.id)
    ).all()
    found = []
    for link, integration in rows:
        is_source = integration.source_installation_id == here and _is_this(
            link.source_issue_id, link.source_issue_key, issue
        )
        found.append((link, integration, "source" if is_source else "target"))
    return found


def _site_url(session: Session, kind: str, end_id: uuid.UUID) -> str:
    row = session.get(Installation if kind == "installation" else Connection, end_id)
    if row is None:
        return ""
    return row.base_url if isinstance(row, Installation) else row.site_url


def _direction(integration: Integration, side: str) -> str:
    if integration.config.get("direction") == "two_way":
        return "both ways"
    return "from this issue to its mirror" if side == "source" else "from the other issue to this"


def _last_attempt(session: Session, link: IssueLink) -> SyncAttempt | None:
    return session.execute(
        select(SyncAttempt)
        .where(
            SyncAttempt.integration_id == link.integration_id,
            SyncAttempt.issue_key.in_((link.source_issue_key, link.target_issue_key)),
        )
        .order_by(SyncAttempt.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def mirror_view(session: Session, link: IssueLink, integration: Integration, side: str) -> Mirror:
    """One link as the panel shows it."""
    other = "target" if side == "source" else "source"
    kind, end_id = ends_of(integration)[0 if other == "source" else 1]
    other_key = getattr(link, f"{other}_issue_key")
    site = _site_url(session, kind, end_id)
    attempt = _last_attempt(session, link)
    synced_iso, synced = _when(link.last_synced_at)
    attempt_iso, attempted = _when(attempt.created_at if attempt else None)
    outcome = attempt.outcome if attempt else None
    reason = error_words(attempt.error) if attempt else None
    failed = outcome in ("failed", "retrying")
    return Mirror(
        link_id=str(link.id),
        integration=integration.name,
        direction=_direction(integration, side),
        side=side,
        other_key=other_key,
        other_url=f"{site}/browse/{other_key}" if site else "",
        state=link.state,
        last_synced_at=synced_iso,
        last_synced=synced,
        last_attempt_id=attempt.id if attempt else None,
        last_attempt_at=attempt_iso,
        last_attempt=attempted,
        outcome=outcome,
        outcome_words=outcome_words(outcome, reason is not None),
        error=reason if failed else None,
        note=None if failed else reason,
    )


def issue_mirrors(db: Database, tenant_id: uuid.UUID, issue: IssueRef) -> list[Mirror]:
    """Every mirror of the workspace's issue, oldest link first."""
    with db.tenant_session(tenant_id) as session:
        return [mirror_view(session, *found) for found in links_of_issue(session, issue)]


def find_link_of_issue(
    session: Session, issue: IssueRef, link_id: uuid.UUID
) -> tuple[IssueLink, Integration, str] | None:
    """The issue's link with this id, or None if it is not one of the issue's links."""
    for found in links_of_issue(session, issue):
        if found[0].id == link_id:
            return found
    return None
