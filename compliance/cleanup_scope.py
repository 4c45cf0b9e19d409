"""What a clean-up run works through: the integrations of its scope, their links (with
the comment copies Tandem wrote), and a client for each site end it can still reach."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.cleanup_markers import IssueEnd
from compliance.cleanup_runs import Scope
from jira.client import JiraClient
from jira.errors import AuthorizationError
from jira.meter import CallMeter
from models.connections import Connection
from models.installations import Installation
from models.integrations import Integration
from models.links import CommentLink, IssueLink
from runtime import Runtime
from sync.sites import client_for, ends_of

SIDES = ("source", "target")
UNINSTALLED = (
    "Tandem was uninstalled from this site, so Atlassian no longer accepts its calls there; "
    "offer clean-up before uninstalling"
)


@dataclass
class Reach:
    """One site end: its URL, and a client (None when the site cannot be reached: why)."""

    site: str
    client: JiraClient | None
    reason: str | None = None
    meter: CallMeter = field(default_factory=CallMeter)
    counted: int = 0  # the meter's calls already added to the run's record

    def new_calls(self) -> int:
        """Calls made since the last time this was asked."""
        fresh, self.counted = self.meter.calls - self.counted, self.meter.calls
        return fresh


@dataclass(frozen=True)
class Link:
    """A link as clean-up sees it: both issue ids and the comment copies on each side."""

    id: str
    integration_id: uuid.UUID
    source: str
    target: str
    deleted: bool
    copies: dict[str, frozenset[str]]


def integrations_in(session: Session, scope: Scope) -> list[Integration]:
    """The scope's integrations in a stable order; LookupError for an unknown integration."""
    if scope.integration_id is not None:
        found = session.get(Integration, scope.integration_id)
        if found is None:
            raise LookupError("no such integration in this workspace")
        return [found]
    return list(session.execute(select(Integration).order_by(Integration.id)).scalars())


def count_links(session: Session, integration_ids: list[uuid.UUID]) -> int:
    return session.execute(
        select(func.count()).where(IssueLink.integration_id.in_(integration_ids))
    ).scalar_one()


def links_of(session: Session, integration_id: uuid.UUID) -> list[Link]:
    """Every link of the integration (whatever its state), in id order, with its copies."""
    rows = list(
        session.execute(
            select(IssueLink)
            .where(IssueLink.integration_id == integration_id)
            .order_by(IssueLink.id)
        ).scalars()
    )
    copies: dict[uuid.UUID, dict[str, set[str]]] = {
        row.id: {"source": set(), "target": set()} for row in rows
    }
    for copy in session.execute(
        select(CommentLink).where(CommentLink.issue_link_id.in_(list(copies)))
    ).scalars():
        # A comment born on one side was copied to the other: the copy is on that side.
        side = "target" if copy.origin == "source" else "source"
        copy_id = copy.target_comment_id if side == "target" else copy.source_comment_id
        if copy_id:
            copies[copy.issue_link_id][side].add(copy_id)
    return [
        Link(
            id=str(row.id),
            integration_id=integration_id,
            source=row.source_issue_id,
            target=row.target_issue_id,
            deleted=row.state == "deleted",
            copies={side: frozenset(ids) for side, ids in copies[row.id].items()},
        )
        for row in rows
    ]


class Reaches:
    """One Reach per site end for the whole run, built when first needed."""

    def __init__(self, runtime: Runtime, skip_installations: bool) -> None:
        self.runtime = runtime
        self.skip_installations = skip_installations
        self._ends: dict[tuple[str, uuid.UUID], Reach] = {}

    def of(self, session: Session, integration: Integration) -> dict[str, Reach]:
        """The integration's source and target reach."""
        return {
            side: self._end(session, kind, end_id)
            for side, (kind, end_id) in zip(SIDES, ends_of(integration), strict=True)
        }

    def _end(self, session: Session, kind: str, end_id: uuid.UUID) -> Reach:
        known = self._ends.get((kind, end_id))
        if known is None:
            known = self._ends[(kind, end_id)] = self._reach(session, kind, end_id)
        return known

    def _reach(self, session: Session, kind: str, end_id: uuid.UUID) -> Reach:
        site = _site_of(session, kind, end_id)
        if kind == "installation" and self.skip_installations:
            return Reach(site, None, UNINSTALLED)  # never tried: it would only refuse
        meter = CallMeter()
        try:
            client, site = client_for(self.runtime, session, kind, end_id, meter)
        except AuthorizationError as error:
            reason = str(error)
            if kind == "installation" and _uninstalled(session, end_id):
                reason = UNINSTALLED
            return Reach(site, None, reason, meter)
        return Reach(site, client, None, meter)

    def all(self) -> list[Reach]:
        return list(self._ends.values())


def _site_of(session: Session, kind: str, end_id: uuid.UUID) -> str:
    if kind == "installation":
        installation = session.get(Installation, end_id)
        return installation.base_url if installation else f"installation {end_id}"
    connection = session.get(Connection, end_id)
    return connection.site_url if connection else f"connection {end_id}"


def _uninstalled(session: Session, installation_id: uuid.UUID) -> bool:
    installation = session.get(Installation, installation_id)
    return installation is not None and installation.status == "uninstalled"


def issue_ends(reaches: dict[str, Reach], link: Link) -> list[IssueEnd]:
    """The link's issues on the sites that can be reached."""
    ends: list[IssueEnd] = []
    for side in SIDES:
        reach = reaches[side]
        if reach.client is not None:
            ends.append(
                IssueEnd(
                    site=reach.site,
                    client=reach.client,
                    issue_id=getattr(link, side),
                    copy_ids=link.copies[side],
                    source_deleted=link.deleted,
                )
            )
    return ends


def unreachable(reaches: list[Reach]) -> list[dict[str, Any]]:
    """The sites a run could not reach, and why, each once."""
    seen: dict[str, str] = {}
    for reach in reaches:
        if reach.client is None:
            seen.setdefault(reach.site, reach.reason or "unreachable")
    return [{"site": site, "reason": reason} for site, reason in sorted(seen.items())]
