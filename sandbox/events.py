"""Webhook bodies, built at the moment of the change (under the state lock) as Jira sends
them: the v2 representation, `timestamp` in milliseconds, `webhookEvent`, and per kind
`issue_event_type_name`/`user`/`changelog` or `comment` or `attachment`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox import jql, views
from sandbox.state import Attachment, Comment, Issue, Site
from sandbox.times import epoch_ms

PRIMARY = "Primary"
SECONDARY = "Secondary"


@dataclass(frozen=True)
class Event:
    """Something that happened on a site, ready to be sent to subscribed apps."""

    site: str
    name: str
    body: dict[str, Any]
    issue_key: str | None
    flow: str = PRIMARY
    facts: jql.IssueFacts | None = None  # the issue at this moment, for JQL-filtered webhooks

    def changed_fields(self) -> set[str]:
        """Field ids in the changelog (empty when the event has none)."""
        items = (self.body.get("changelog") or {}).get("items") or []
        return {str(item.get("fieldId")) for item in items}


def issue_event(
    site: Site,
    base: str,
    name: str,
    type_name: str,
    issue: Issue,
    actor_id: str,
    changelog: dict[str, Any] | None = None,
    comment: Comment | None = None,
) -> Event:
    """`jira:issue_created` / `_updated` / `_deleted`."""
    body: dict[str, Any] = {
        "timestamp": epoch_ms(),
        "webhookEvent": name,
        "issue_event_type_name": type_name,
        "user": views.user(site, base, actor_id, api="2"),
        "issue": views.issue(site, base, issue, api="2"),
    }
    if changelog is not None:
        body["changelog"] = changelog
    if comment is not None:
        body["comment"] = views.comment(site, base, issue, comment, api="2")
    return Event(site.name, name, body, issue.key, facts=jql.facts(site, issue))


def comment_event(
    site: Site, base: str, name: str, issue: Issue, comment: Comment, flow: str = PRIMARY
) -> Event:
    """`comment_created` / `_updated` / `_deleted`: the comment and a short issue."""
    body = {
        "timestamp": epoch_ms(),
        "webhookEvent": name,
        "comment": views.comment(site, base, issue, comment, api="2"),
        "issue": views.issue_brief(site, base, issue),
    }
    return Event(site.name, name, body, issue.key, flow, jql.facts(site, issue))


def attachment_event(
    site: Site, base: str, name: str, issue: Issue, attachment: Attachment, flow: str = PRIMARY
) -> Event:
    """`attachment_created` / `_deleted`: like Jira, the body names no issue."""
    body = {
        "timestamp": epoch_ms(),
        "webhookEvent": name,
        "attachment": views.attachment(site, base, attachment, api="2"),
    }
    return Event(site.name, name, body, issue.key, flow)
