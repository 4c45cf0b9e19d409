"""Rewriting the attribution line Tandem appended to its comment copies ("— mirrored by
Tandem from ALP-1, written by Ada Lovelace") to name an author differently: "a former
user" once their account is closed, their current display name once it changed.

The copies come from ``comment_links.author_account_id``. Each mirror issue's comments
are read once (paged) and only copies whose line changes are edited; a copy or issue
that is gone needs nothing. The line is Tandem's own text, so only it is touched.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from compliance.cleanup_markers import is_attribution
from jira.client import JiraClient
from jira.errors import JiraError, PermanentError
from jira.meter import CallMeter
from models.integrations import Integration
from models.links import CommentLink, IssueLink
from runtime import Runtime
from sync.sites import client_for, ends_of

WRITTEN_BY = ", written by "
PAGE = 100


@dataclass
class Rewrite:
    """What a rewrite did: copies edited, links settled (done or gone), and failures."""

    edited: int = 0
    settled: list[uuid.UUID] = field(default_factory=list)
    failed: int = 0


def renamed(body: Any, name: str) -> tuple[Any, bool]:
    """The comment body with its attribution paragraphs naming ``name``; whether it changed."""
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        return body, False
    changed = False
    content = []
    for node in body["content"]:
        if is_attribution(node):
            text = node["content"][0]["text"]
            wanted = f"{text.partition(WRITTEN_BY)[0]}{WRITTEN_BY}{name}"
            if wanted != text:
                node = {**node, "content": [{**node["content"][0], "text": wanted}]}
                changed = True
        content.append(node)
    return {**body, "content": content}, changed


def _comments(client: JiraClient, issue_id: str) -> Iterator[dict[str, Any]]:
    start = 0
    while True:
        page = client.call(
            "get_comments",
            path_params={"key": issue_id},
            params={"startAt": start, "maxResults": PAGE, "orderBy": "created"},
        ).json()
        comments = page.get("comments") or []
        yield from comments
        start += len(comments)
        if not comments or start >= int(page.get("total") or 0):
            return


def _copies(
    runtime: Runtime, tenant_id: uuid.UUID, accounts: set[str]
) -> dict[tuple[uuid.UUID, str, str], dict[str, tuple[uuid.UUID, str]]]:
    """{(integration, mirror side, mirror issue): {copy id: (link id, author)}}."""
    grouped: dict[tuple[uuid.UUID, str, str], dict[str, tuple[uuid.UUID, str]]] = defaultdict(dict)
    with runtime.db.tenant_session(tenant_id) as session:
        rows = session.execute(
            select(CommentLink, IssueLink)
            .join(IssueLink, IssueLink.id == CommentLink.issue_link_id)
            .where(CommentLink.author_account_id.in_(sorted(accounts)))
        ).all()
        for copy, link in rows:
            side = "target" if copy.origin == "source" else "source"
            copy_id = copy.target_comment_id if side == "target" else copy.source_comment_id
            issue = link.target_issue_id if side == "target" else link.source_issue_id
            key = (link.integration_id, side, issue)
            grouped[key][copy_id or ""] = (copy.id, str(copy.author_account_id))
    return grouped


def _clients(
    runtime: Runtime, tenant_id: uuid.UUID, integrations: set[uuid.UUID], meter: CallMeter
) -> dict[tuple[uuid.UUID, str], JiraClient | None]:
    """A client for each side of each integration (None where it cannot be reached)."""
    found: dict[tuple[uuid.UUID, str], JiraClient | None] = {}
    with runtime.db.tenant_session(tenant_id) as session:
        for integration_id in integrations:
            integration = session.get(Integration, integration_id)
            if integration is None:
                continue  # its links went with it
            for side, (kind, end_id) in zip(
                ("source", "target"), ends_of(integration), strict=True
            ):
                try:
                    found[(integration_id, side)] = client_for(
                        runtime, session, kind, end_id, meter
                    )[0]
                except JiraError:
                    found[(integration_id, side)] = None
    return found


def rewrite_attributions(
    runtime: Runtime, tenant_id: uuid.UUID, names: dict[str, str], meter: CallMeter
) -> Rewrite:
    """Make every copy of a comment written by an account of ``names`` name the author
    as ``names[account]``. Links whose copy is rewritten, already right or gone are
    ``settled``; a site that cannot be reached or refuses counts as failed."""
    outcome = Rewrite()
    grouped = _copies(runtime, tenant_id, set(names))
    clients = _clients(runtime, tenant_id, {key[0] for key in grouped}, meter)
    for (integration_id, side, issue_id), copies in grouped.items():
        client = clients.get((integration_id, side))
        if client is None:
            outcome.failed += len(copies)
            continue
        try:
            outcome.edited += _rewrite_issue(client, issue_id, copies, names)
        except PermanentError as error:
            if error.status != 404:  # 404: the mirror issue is gone, nothing names them
                outcome.failed += len(copies)
                continue
        except JiraError:
            outcome.failed += len(copies)
            continue
        outcome.settled += [link_id for link_id, _ in copies.values()]
    return outcome


def _rewrite_issue(
    client: JiraClient,
    issue_id: str,
    copies: dict[str, tuple[uuid.UUID, str]],
    names: dict[str, str],
) -> int:
    edited = 0
    for comment in _comments(client, issue_id):
        comment_id = str(comment.get("id"))
        if comment_id not in copies:
            continue
        body, changed = renamed(comment.get("body"), names[copies[comment_id][1]])
        if not changed:
            continue
        try:
            client.call(
                "edit_comment", path_params={"key": issue_id, "id": comment_id}, json={"body": body}
            )
            edited += 1
        except PermanentError as error:
            if error.status != 404:
                raise
    return edited
