"""Mirror an issue's comments: new ones are copied with an attribution line, edited ones
are updated, deleted ones follow the integration's policy. Each comment is linked to its
copy, so nothing is copied twice and copies are never copied back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from jira.client import JiraClient
from models.atlassian_accounts import note_comment_authors
from models.links import CommentLink
from runtime import Runtime
from sync.children import maybe_there, tolerating_404
from sync.fields import value_hash
from sync.markers import ATTRIBUTION_PREFIX, attribution_line

MAX_COMMENTS = 100


@dataclass(frozen=True)
class CommentSide:
    """One side's issue for comment syncing."""

    name: str  # "source" or "target"
    client: JiraClient
    issue_id: str
    issue_key: str


def _comments(side: CommentSide) -> dict[str, dict[str, Any]]:
    page = side.client.call(
        "get_comments",
        path_params={"key": side.issue_id},
        params={"maxResults": MAX_COMMENTS, "orderBy": "created"},
    ).json()
    return {str(c["id"]): c for c in page.get("comments", [])}


def _with_attribution(body: Any, author: str, issue_key: str) -> dict[str, Any]:
    doc = body if isinstance(body, dict) else {"type": "doc", "version": 1, "content": []}
    paragraph = {
        "type": "paragraph",
        "content": [{"type": "text", "text": attribution_line(author, issue_key)}],
    }
    return {**doc, "content": [*doc.get("content", []), paragraph]}


def author_account(comment: dict[str, Any]) -> str | None:
    """The account id of a comment's author when it is a person (app users are not)."""
    author = comment.get("author") or {}
    account = author.get("accountId")
    return account if isinstance(account, str) and author.get("accountType") != "app" else None


def is_mirrored_copy(comment: dict[str, Any]) -> bool:
    """Whether a comment is a copy Tandem wrote (it ends with our attribution line)."""
    return ATTRIBUTION_PREFIX in str(comment.get("body"))


def sync_comments(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    issue_link_id: uuid.UUID,
    sides: dict[str, CommentSide],
    two_way: bool,
    delete_policy: str,
) -> list[str]:
    """Bring the comments of a linked pair in line; returns what was done, in words."""
    with runtime.db.tenant_session(tenant_id) as session:
        links = list(
            session.execute(
                select(CommentLink).where(CommentLink.issue_link_id == issue_link_id)
            ).scalars()
        )
        known = [
            {
                "id": link.id,
                "source": link.source_comment_id,
                "target": link.target_comment_id,
                "origin": link.origin,
                "hash": link.content_hash,
            }
            for link in links
        ]
    origins = ("source", "target") if two_way else ("source",)
    # One way, the target's list is not needed: copies are edited or deleted by id.
    current = {name: _comments(sides[name]) for name in origins}
    done: list[str] = []
    new_links: list[dict[str, Any]] = []
    updates: dict[uuid.UUID, str] = {}
    removed: list[uuid.UUID] = []
    named: dict[str, set[str | None]] = {"source": set(), "target": set()}  # authors named
    for origin in origins:
        other = "target" if origin == "source" else "source"
        linked_ids = {row[origin] for row in known}
        for comment_id, comment in current[origin].items():
            if comment_id in linked_ids or is_mirrored_copy(comment):
                continue
            author = (comment.get("author") or {}).get("displayName", "someone")
            copy = (
                sides[other]
                .client.call(
                    "add_comment",
                    path_params={"key": sides[other].issue_id},
                    json={
                        "body": _with_attribution(
                            comment.get("body"), author, sides[origin].issue_key
                        )
                    },
                )
                .json()
            )
            new_links.append(
                {
                    origin: comment_id,
                    other: str(copy["id"]),
                    "origin": origin,
                    "hash": value_hash(comment.get("body")),
                    "author": author_account(comment),
                }
            )
            named[origin].add(author_account(comment))
            done.append(f"copied comment {comment_id}")
    for row in known:
        origin, other = row["origin"], "target" if row["origin"] == "source" else "source"
        comment = current[origin].get(row[origin])
        if comment is None:
            if delete_policy == "delete_mirror" and maybe_there(current, other, row[other]):
                tolerating_404(
                    lambda row=row, other=other: sides[other].client.call(
                        "delete_comment",
                        path_params={"key": sides[other].issue_id, "id": row[other]},
                    )
                )
                done.append(f"deleted copy of comment {row[origin]}")
            removed.append(row["id"])
            continue
        body_hash = value_hash(comment.get("body"))
        if body_hash != row["hash"] and maybe_there(current, other, row[other]):
            author = (comment.get("author") or {}).get("displayName", "someone")
            body = _with_attribution(comment.get("body"), author, sides[origin].issue_key)
            tolerating_404(
                lambda row=row, other=other, body=body: sides[other].client.call(
                    "edit_comment",
                    path_params={"key": sides[other].issue_id, "id": row[other]},
                    json={"body": body},
                )
            )
            updates[row["id"]] = body_hash
            named[origin].add(author_account(comment))
            done.append(f"updated copy of comment {row[origin]}")
    _store(runtime, tenant_id, issue_link_id, new_links, updates, removed, named)
    return done


def _store(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    issue_link_id: uuid.UUID,
    new_links: list[dict[str, Any]],
    updates: dict[uuid.UUID, str],
    removed: list[uuid.UUID],
    named: dict[str, set[str | None]],
) -> None:
    if not (new_links or updates or removed):
        return
    with runtime.db.tenant_session(tenant_id) as session:
        for side, authors in named.items():  # their names are now in our copies
            note_comment_authors(session, issue_link_id, side, authors)
        for row in new_links:
            session.add(
                CommentLink(
                    tenant_id=tenant_id,
                    issue_link_id=issue_link_id,
                    source_comment_id=row["source"],
                    target_comment_id=row["target"],
                    origin=row["origin"],
                    content_hash=row["hash"],
                    author_account_id=row["author"],
                )
            )
        for link_id, body_hash in updates.items():
            link = session.get(CommentLink, link_id)
            if link is not None:
                link.content_hash = body_hash
        for link_id in removed:
            link = session.get(CommentLink, link_id)
            if link is not None:
                session.delete(link)
