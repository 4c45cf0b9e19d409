"""Forge product events in the shape the engine reads (a Jira webhook body), and the
identifier that makes a redelivered event a duplicate in the inbox.

Forge sends ``{"eventType": "avi:jira:updated:issue", "issue", "atlassianId",
"changelog", "comment", "attachment", ...}``; the engine reads Connect's ``webhookEvent``,
``user``, ``issue``, ``changelog``, ``comment``, ``attachment`` and ``timestamp``. Forge
names no delivery identifier and resends a failed event with the same body, so the
body's SHA-256 is the event id."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

# Forge event -> the Jira webhook event the engine knows.
EVENTS = {
    "avi:jira:created:issue": "jira:issue_created",
    "avi:jira:updated:issue": "jira:issue_updated",
    "avi:jira:deleted:issue": "jira:issue_deleted",
    "avi:jira:commented:issue": "comment_updated",  # sent for a new comment and an edit
    "avi:jira:deleted:comment": "comment_deleted",
    "avi:jira:created:attachment": "attachment_created",
    "avi:jira:deleted:attachment": "attachment_deleted",
}
IDENTIFIER_PREFIX = "forge:"


def event_identifier(raw_body: bytes) -> str:
    """The inbox identifier of a Forge event: ``forge:`` + SHA-256 of its body."""
    return IDENTIFIER_PREFIX + hashlib.sha256(raw_body).hexdigest()


def _epoch_ms(value: object) -> int:
    """Jira's ``2026-12-02T10:00:00.000+0000`` as epoch milliseconds (0 if unreadable)."""
    if not isinstance(value, str):
        return 0
    try:
        return int(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
    except ValueError:
        return 0


def webhook_body(event: dict[str, Any]) -> dict[str, Any]:
    """The Forge event as a webhook body. ``timestamp`` is when the issue (or comment)
    last changed, as the event shows it, so a late event never passes for a newer one."""
    name = EVENTS[event["eventType"]]
    issue = event.get("issue") if isinstance(event.get("issue"), dict) else None
    comment = event.get("comment") if isinstance(event.get("comment"), dict) else None
    actor = event.get("atlassianId") if isinstance(event.get("atlassianId"), str) else None
    body: dict[str, Any] = {"webhookEvent": name}
    if actor:
        body["user"] = {"accountId": actor}
    if issue is not None:
        body["issue"] = issue
    if isinstance(event.get("changelog"), dict):
        body["changelog"] = event["changelog"]
    if isinstance(event.get("jiraEventTypeName"), str):
        body["issue_event_type_name"] = event["jiraEventTypeName"]
    if comment is not None:
        if actor and not isinstance(comment.get("updateAuthor"), dict):
            comment = {**comment, "updateAuthor": {"accountId": actor}}
        body["comment"] = comment
    if isinstance(event.get("attachment"), dict):
        body["attachment"] = event["attachment"]
    fields = (issue or {}).get("fields")
    changed = fields.get("updated") if isinstance(fields, dict) else None
    body["timestamp"] = _epoch_ms(changed) or _epoch_ms((comment or {}).get("updated"))
    return body
