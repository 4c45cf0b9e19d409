"""Finding and removing the marks Tandem left on one issue: the sync labels, the link
property and the attribution paragraph of the comment copies it wrote."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jira.client import JiraClient
from jira.errors import PermanentError
from sync.markers import ATTRIBUTION_PREFIX, DELETED_LABEL, LINK_PROPERTY, SYNC_LABEL

KINDS = ("labels", "properties", "attributions")
MAX_COMMENTS = 100


@dataclass(frozen=True)
class IssueEnd:
    """One issue of a link as clean-up sees it."""

    site: str
    client: JiraClient
    issue_id: str
    copy_ids: frozenset[str]  # comments on this issue that are Tandem's copies
    source_deleted: bool  # the link's other issue was deleted (Tandem may have labelled this)


@dataclass
class Findings:
    """What is still on one issue: labels to remove, the property, rewritten comments."""

    labels: list[str] = field(default_factory=list)
    has_property: bool = False
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> new body
    attributions: int = 0

    def counts(self) -> dict[str, int]:
        """How many marks of each kind."""
        return {
            "labels": len(self.labels),
            "properties": int(self.has_property),
            "attributions": self.attributions,
        }


def is_attribution(node: Any) -> bool:
    """Whether an ADF node is the paragraph Tandem appends to a comment copy."""
    if not isinstance(node, dict) or node.get("type") != "paragraph":
        return False
    content = node.get("content") or []
    return (
        len(content) == 1
        and content[0].get("type") == "text"
        and str(content[0].get("text", "")).startswith(ATTRIBUTION_PREFIX)
    )


def without_attribution(body: Any, known_copy: bool) -> tuple[Any, int]:
    """The body minus attribution paragraphs (any of a known copy's, else only a trailing
    one, as an orphaned copy has) and how many were removed; other nodes untouched."""
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        return body, 0
    content = body["content"]
    if known_copy:
        kept = [node for node in content if not is_attribution(node)]
    else:
        kept = content[:-1] if content and is_attribution(content[-1]) else content
    return {**body, "content": kept}, len(content) - len(kept)


def _missing(call: Callable[[], Any]) -> Any | None:
    """The call's result, or None when Jira answers 404."""
    try:
        return call()
    except PermanentError as error:
        if error.status != 404:
            raise
        return None


def inspect(end: IssueEnd, integration_id: str) -> Findings | None:
    """Read the issue's labels, link property and comments; None if the issue is gone."""
    client, key = end.client, {"key": end.issue_id}
    issue = _missing(
        lambda: client.call("get_issue", path_params=key, params={"fields": "labels"}).json()
    )
    if issue is None:
        return None
    labels = issue["fields"].get("labels") or []
    found = Findings(labels=[label for label in (SYNC_LABEL,) if label in labels])
    if end.source_deleted and DELETED_LABEL in labels:
        found.labels.append(DELETED_LABEL)
    prop = _missing(
        lambda: client.call("get_property", path_params={**key, "property": LINK_PROPERTY}).json()
    )
    value = (prop or {}).get("value")
    found.has_property = isinstance(value, dict) and value.get("integration") == integration_id
    for comment in _all_comments(client, end.issue_id):
        comment_id = str(comment["id"])
        body, removed = without_attribution(comment.get("body"), comment_id in end.copy_ids)
        if removed:
            found.comments[comment_id] = body
            found.attributions += removed
    return found


def _all_comments(client: JiraClient, issue_id: str) -> list[dict[str, Any]]:
    """Every comment of the issue, page by page (Jira pages them)."""
    comments: list[dict[str, Any]] = []
    while True:
        page = client.call(
            "get_comments",
            path_params={"key": issue_id},
            params={"startAt": len(comments), "maxResults": MAX_COMMENTS, "orderBy": "created"},
        ).json()
        batch = page.get("comments") or []
        comments += batch
        if not batch or len(comments) >= int(page.get("total", len(comments))):
            return comments


def remove(end: IssueEnd, found: Findings) -> None:
    """Write only what ``inspect`` found; a mark that vanished meanwhile (404) is fine."""
    client, key = end.client, {"key": end.issue_id}
    if found.labels:
        verbs = [{"remove": label} for label in found.labels]
        _missing(
            lambda: client.call("edit_issue", path_params=key, json={"update": {"labels": verbs}})
        )
    if found.has_property:
        _missing(
            lambda: client.call("delete_property", path_params={**key, "property": LINK_PROPERTY})
        )
    for comment_id, body in found.comments.items():
        _missing(
            lambda comment_id=comment_id, body=body: client.call(
                "edit_comment", path_params={**key, "id": comment_id}, json={"body": body}
            )
        )
