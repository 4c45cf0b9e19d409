"""Jira's JSON representations. `api="3"` is REST v3 (ADF bodies); `api="2"` is the v2
shape webhooks carry (wiki-markup strings, `/rest/api/2/` self links)."""

from __future__ import annotations

import copy
from typing import Any

from sandbox import adf
from sandbox.state import Attachment, Comment, Issue, Named, Project, Site, Status, User
from sandbox.times import jira_time

CATEGORIES = {
    "new": (2, "blue-gray", "To Do"),
    "indeterminate": (4, "yellow", "In Progress"),
    "done": (3, "green", "Done"),
}
ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


def _avatars(base: str, kind: str, ident: str) -> dict[str, str]:
    return {f"{n}x{n}": f"{base}/avatar/{kind}/{ident}?size={n}" for n in (48, 24, 16, 32)}


def user(
    site: Site, base: str, account_id: str | None, api: str = "3", email: bool = False
) -> dict[str, Any] | None:
    """A user object, or None for nobody. The email shows when the user made it public
    (profile visibility), or with `email=True` (`/myself`, the control plane)."""
    if account_id is None:
        return None
    found = site.users.get(account_id) or User(account_id, "Former user")
    body: dict[str, Any] = {
        "self": f"{base}/rest/api/{api}/user?accountId={found.account_id}",
        "accountId": found.account_id,
        "avatarUrls": _avatars(base, "user", found.account_id),
        "displayName": found.display_name,
        "active": found.active,
        "timeZone": found.time_zone,
        "accountType": found.account_type,
    }
    if found.email and (email or found.email_public):
        body["emailAddress"] = found.email
    return body


def status(base: str, found: Status, api: str = "3") -> dict[str, Any]:
    category_id, colour, category_name = CATEGORIES[found.category]
    return {
        "self": f"{base}/rest/api/{api}/status/{found.id}",
        "description": "",
        "iconUrl": f"{base}/images/icons/statuses/generic.png",
        "name": found.name,
        "id": found.id,
        "statusCategory": {
            "self": f"{base}/rest/api/{api}/statuscategory/{category_id}",
            "id": category_id,
            "key": found.category,
            "colorName": colour,
            "name": category_name,
        },
    }


def priority(base: str, found: Named, api: str = "3") -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/{api}/priority/{found.id}",
        "iconUrl": f"{base}/images/icons/priorities/{found.name.lower()}.svg",
        "name": found.name,
        "id": found.id,
    }


def issue_type(base: str, found: Named, api: str = "3") -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/{api}/issuetype/{found.id}",
        "id": found.id,
        "description": found.description,
        "iconUrl": f"{base}/images/icons/issuetypes/{found.name.lower()}.svg",
        "name": found.name,
        "subtask": False,
        "hierarchyLevel": 0,
    }


def project(base: str, found: Project, api: str = "3") -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/{api}/project/{found.id}",
        "id": found.id,
        "key": found.key,
        "name": found.name,
        "projectTypeKey": "software",
        "simplified": False,
        "avatarUrls": _avatars(base, "project", found.id),
    }


def project_detail(site: Site, base: str, found: Project) -> dict[str, Any]:
    """`GET /project/{idOrKey}`: the project with its issue types."""
    body = project(base, found)
    body["issueTypes"] = [issue_type(base, t) for t in site.issue_types]
    body["style"] = "classic"
    return body


def comment(site: Site, base: str, issue: Issue, found: Comment, api: str = "3") -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/{api}/issue/{issue.id}/comment/{found.id}",
        "id": found.id,
        "author": user(site, base, found.author_id, api),
        "body": copy.deepcopy(found.body) if api == "3" else adf.to_wiki(found.body) or "",
        "updateAuthor": user(site, base, found.update_author_id, api),
        "created": jira_time(found.created),
        "updated": jira_time(found.updated),
        "jsdPublic": True,
    }


def comment_page(site: Site, base: str, issue: Issue, api: str = "3") -> dict[str, Any]:
    comments = [comment(site, base, issue, c, api) for c in issue.comments]
    return {"comments": comments, "maxResults": len(comments), "total": len(comments), "startAt": 0}


def attachment(site: Site, base: str, found: Attachment, api: str = "3") -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/{api}/attachment/{found.id}",
        "id": found.id,
        "filename": found.filename,
        "author": user(site, base, found.author_id, api),
        "created": jira_time(found.created),
        "size": len(found.content),
        "mimeType": found.mime_type,
        "content": f"{base}/rest/api/{api}/attachment/content/{found.id}",
    }


def issue_fields(site: Site, base: str, found: Issue, api: str = "3") -> dict[str, Any]:
    """Every field the sandbox knows, in the representation of `api`."""
    description = copy.deepcopy(found.description) if api == "3" else adf.to_wiki(found.description)
    return {
        "summary": found.summary,
        "description": description,
        "project": project(base, site.projects[found.project_id], api),
        "issuetype": issue_type(base, site.issue_type(found.issue_type_id), api),
        "status": status(base, site.status(found.status_id), api),
        "priority": priority(base, site.priority(found.priority_id), api),
        "labels": list(found.labels),
        "assignee": user(site, base, found.assignee_id, api),
        "reporter": user(site, base, found.reporter_id, api),
        "creator": user(site, base, found.creator_id, api),
        "created": jira_time(found.created),
        "updated": jira_time(found.updated),
        "comment": comment_page(site, base, found, api),
        "attachment": [attachment(site, base, a, api) for a in found.attachments],
    }


def issue(
    site: Site, base: str, found: Issue, api: str = "3", only: set[str] | None = None
) -> dict[str, Any]:
    """An issue as `GET /rest/api/{api}/issue/{key}` returns it; `only` filters fields."""
    fields = issue_fields(site, base, found, api)
    if only is not None:
        fields = {name: value for name, value in fields.items() if name in only}
    body: dict[str, Any] = {
        "id": found.id,
        "self": f"{base}/rest/api/{api}/issue/{found.id}",
        "key": found.key,
        "fields": fields,
    }
    if api == "3":
        body = {"expand": ISSUE_EXPAND, **body}
    return body


def issue_brief(site: Site, base: str, found: Issue, api: str = "2") -> dict[str, Any]:
    """The short issue that comment webhooks carry."""
    short = {"summary", "issuetype", "project", "assignee", "priority", "status"}
    return issue(site, base, found, api, only=short)
