"""What happens to issues, whoever does it (a person through the control API or an app
through REST): validate, change the state, and return the webhook events Jira would fire.

Each function takes the state lock itself; callers publish the returned events.
"""

from __future__ import annotations

from typing import Any

from sandbox import adf, fieldvalues, views
from sandbox.errors import JiraError, field_errors
from sandbox.events import SECONDARY, Event, attachment_event, comment_event, issue_event
from sandbox.state import Attachment, Comment, Issue, SandboxState, Site, Transition
from sandbox.times import utcnow

UPDATED = "jira:issue_updated"
PROPERTY_VALUE_MAX = 32768


def _site(state: SandboxState, site_name: str) -> tuple[Site, str]:
    return state.site(site_name), state.site_url(site_name)


def create_issue(
    state: SandboxState, site_name: str, actor_id: str, fields: Any
) -> tuple[dict[str, str], list[Event]]:
    """Create an issue; returns `{"id","key","self"}` and `jira:issue_created`."""
    with state.lock:
        site, base = _site(state, site_name)
        values = fieldvalues.parse_create(site, fields)
        project = site.projects[values["project"]]
        site.project_counters[project.id] += 1
        now = utcnow()
        issue = Issue(
            id=site.new_id(),
            key=f"{project.key}-{site.project_counters[project.id]}",
            project_id=project.id,
            issue_type_id=values["issuetype"],
            summary=values["summary"],
            description=values.get("description"),
            status_id=site.workflow(project.id).initial_status_id,
            priority_id=values.get("priority", site.default_priority_id),
            labels=values.get("labels", []),
            assignee_id=values.get("assignee"),
            reporter_id=actor_id,
            creator_id=actor_id,
            created=now,
            updated=now,
        )
        site.issues[issue.id] = issue
        site.keys[issue.key] = issue.id
        ref = {"id": issue.id, "key": issue.key, "self": f"{base}/rest/api/3/issue/{issue.id}"}
        return ref, [
            issue_event(site, base, "jira:issue_created", "issue_created", issue, actor_id)
        ]


def _values(issue: Issue) -> dict[str, Any]:
    return {
        "summary": issue.summary,
        "description": issue.description,
        "issuetype": issue.issue_type_id,
        "priority": issue.priority_id,
        "labels": list(issue.labels),
        "assignee": issue.assignee_id,
    }


def edit_issue(
    state: SandboxState,
    site_name: str,
    key: str,
    actor_id: str,
    fields: Any = None,
    update: Any = None,
    status_name: str | None = None,
) -> list[Event]:
    """Edit fields (and, for people, move the status); no event when nothing changed."""
    with state.lock:
        site, base = _site(state, site_name)
        issue = site.issue(key)
        new = fieldvalues.parse_edit(site, _values(issue), fields, update)
        status_id = issue.status_id
        if status_name is not None:
            match = [s for s in site.statuses if s.name.lower() == status_name.lower()]
            if not match:
                raise field_errors({"status": f"No status named '{status_name}'."})
            status_id = match[0].id
        return _commit(site, base, issue, actor_id, new, status_id)


def available_transitions(site: Site, issue: Issue) -> list[Transition]:
    """The transitions of the issue's project workflow that leave its current status."""
    workflow = site.workflow(issue.project_id)
    return [t for t in workflow.transitions if t.available_from(issue.status_id)]


def transitions(state: SandboxState, site_name: str, key: str) -> dict[str, Any]:
    """`GET /issue/{key}/transitions`: what the project's workflow allows from here."""
    with state.lock:
        site, base = _site(state, site_name)
        issue = site.issue(key)
        return {
            "expand": "transitions",
            "transitions": [
                {
                    "id": t.id,
                    "name": t.name,
                    "to": views.status(base, site.status(t.to_status_id)),
                    "hasScreen": False,
                    "isGlobal": not t.from_status_ids,
                    "isInitial": False,
                    "isAvailable": True,
                    "isConditional": False,
                    "isLooped": False,
                }
                for t in available_transitions(site, issue)
            ],
        }


def transition_issue(
    state: SandboxState, site_name: str, key: str, actor_id: str, body: Any
) -> list[Event]:
    """`POST /issue/{key}/transitions` with `{"transition": {"id": ...}}`; only the
    transitions the workflow offers from the current status are valid."""
    with state.lock:
        site, base = _site(state, site_name)
        issue = site.issue(key)
        wanted = body.get("transition") if isinstance(body, dict) else None
        wanted_id = str(wanted.get("id", "")) if isinstance(wanted, dict) else ""
        found = [t for t in available_transitions(site, issue) if t.id == wanted_id]
        if not found:
            raise JiraError(400, f"Transition id '{wanted_id}' is not valid for this issue.")
        new = fieldvalues.parse_edit(site, _values(issue), body.get("fields"), body.get("update"))
        return _commit(site, base, issue, actor_id, new, found[0].to_status_id)


def _commit(
    site: Site, base: str, issue: Issue, actor_id: str, new: dict[str, Any], status_id: str
) -> list[Event]:
    items = _changelog_items(site, issue, new, status_id)
    if not items:
        return []
    issue.summary = new["summary"]
    issue.description = new["description"]
    issue.issue_type_id = new["issuetype"]
    issue.priority_id = new["priority"]
    issue.labels = new["labels"]
    issue.assignee_id = new["assignee"]
    issue.status_id = status_id
    issue.updated = utcnow()
    fields = {item["fieldId"] for item in items}
    type_name = {frozenset({"status"}): "issue_generic", frozenset({"assignee"}): "issue_assigned"}
    changelog = {"id": site.new_id(), "items": items}
    name = type_name.get(frozenset(fields), "issue_updated")
    return [issue_event(site, base, UPDATED, name, issue, actor_id, changelog=changelog)]


def _item(field: str, old: Any, old_text: Any, new: Any, new_text: Any) -> dict[str, Any]:
    field_id = field if field != "Attachment" else "attachment"
    return {
        "field": field,
        "fieldtype": "jira",
        "fieldId": field_id,
        "from": old,
        "fromString": old_text,
        "to": new,
        "toString": new_text,
    }


def _changelog_items(
    site: Site, issue: Issue, new: dict[str, Any], status_id: str
) -> list[dict[str, Any]]:
    old = _values(issue)
    items = []
    if new["summary"] != old["summary"]:
        items.append(_item("summary", None, old["summary"], None, new["summary"]))
    if new["description"] != old["description"]:
        before, after = adf.to_wiki(old["description"]), adf.to_wiki(new["description"])
        items.append(_item("description", None, before, None, after))
    if new["issuetype"] != old["issuetype"]:
        before, after = site.issue_type(old["issuetype"]), site.issue_type(new["issuetype"])
        items.append(_item("issuetype", before.id, before.name, after.id, after.name))
    if new["priority"] != old["priority"]:
        before, after = site.priority(old["priority"]), site.priority(new["priority"])
        items.append(_item("priority", before.id, before.name, after.id, after.name))
    if new["labels"] != old["labels"]:
        items.append(_item("labels", None, " ".join(old["labels"]), None, " ".join(new["labels"])))
    if new["assignee"] != old["assignee"]:
        items.append(_assignee_item(site, old["assignee"], new["assignee"]))
    if status_id != issue.status_id:
        before, after = site.status(issue.status_id), site.status(status_id)
        items.append(_item("status", before.id, before.name, after.id, after.name))
    return items


def _assignee_item(site: Site, old: str | None, new: str | None) -> dict[str, Any]:
    def name(account: str | None) -> str | None:
        return site.users[account].display_name if account in site.users else None

    item = _item("assignee", old, name(old), new, name(new))
    item.update({"tmpFromAccountId": old, "tmpToAccountId": new})
    return item


def delete_issue(state: SandboxState, site_name: str, key: str, actor_id: str) -> list[Event]:
    """Delete an issue: `jira:issue_deleted`, then (Secondary flow) its comments and files."""
    with state.lock:
        site, base = _site(state, site_name)
        issue = site.issue(key)
        events = [issue_event(site, base, "jira:issue_deleted", "issue_deleted", issue, actor_id)]
        for comment in issue.comments:
            events.append(comment_event(site, base, "comment_deleted", issue, comment, SECONDARY))
        for file in issue.attachments:
            events.append(
                attachment_event(site, base, "attachment_deleted", issue, file, SECONDARY)
            )
        del site.issues[issue.id]
        del site.keys[issue.key]
        return events


def _comment_body(body: Any) -> dict[str, Any]:
    if body is None:
        raise field_errors({"comment": "Comment body can not be empty!"})
    try:
        return adf.validate(body)
    except adf.InvalidADF as exc:
        raise field_errors({"comment": str(exc)}) from None


def _find_comment(issue: Issue, comment_id: str) -> Comment:
    for comment in issue.comments:
        if comment.id == comment_id:
            return comment
    raise JiraError(404, "Can not find a comment for the id: " + comment_id + ".")


def add_comment(
    state: SandboxState, site_name: str, key: str, actor_id: str, body: Any
) -> tuple[dict[str, Any], list[Event]]:
    """Comment on an issue: `comment_created` and `jira:issue_updated` (issue_commented)."""
    with state.lock:
        site, base = _site(state, site_name)
        issue = site.issue(key)
        now = utcnow()
        comment = Comment(site.new_id(), _comment_body(body), actor_id, actor_id, now, now)
        issue.comments.append(comment)
        issue.updated = now
        events = [
            comment_event(site, base, "comment_created", issue, comment),
            issue_event(site, base, UPDATED, "issue_commented", issue, actor_id, comment=comment),
        ]
        return views.comment(site, base, issue, comment), events


def get_comment(state: SandboxState, site_name: str, key: str, comment_id: str) -> dict[str, Any]:
    with state.lock:
        site, base = _site(state, site_name)
        issue = site.issue(key)
        return views.comment(site, base, issue, _find_comment(issue, comment_id))


def edit_comment(
    state: SandboxState, site_name: str, key: str, comment_id: str, actor_id: str, body: Any
) -> tuple[dict[str, Any], list[Event]]:
    """Edit a comment: `comment_updated` and `jira:issue_updated` (issue_comment_edited)."""
    with state.lock:
        site, base = _site(state, site_name)
        issue = site.issue(key)
        comment = _find_comment(issue, comment_id)
        comment.body = _comment_body(body)
        comment.update_author_id = actor_id
        comment.updated = utcnow()
        events = [
            comment_event(site, base, "comment_updated", issue, comment),
            issue_event(
                site, base, UPDATED, "issue_comment_edited", issue, actor_id, comment=comment
            ),
        ]
        return views.comment(site, base, issue, comment), events


def delete_comment(
    state: SandboxState, site_name: str, key: str, comment_id: str, actor_id: str
) -> list[Event]:
    """Delete a comment: `comment_deleted` and `jira:issue_updated` (issue_comment_deleted)."""
    with state.lock:
        site, base = _site(state, site_name)
        issue = site.issue(key)
        comment = _find_comment(issue, comment_id)
        issue.comments.remove(comment)
        return [
            comment_event(site, base, "comment_deleted", issue, comment),
            issue_event(
                site, base, UPDATED, "issue_comment_deleted", issue, actor_id, comment=comment
            ),
        ]


def add_attachment(
    state: SandboxState,
    site_name: str,
    key: str,
    actor_id: str,
    filename: str,
    mime_type: str,
    content: bytes,
) -> tuple[dict[str, Any], list[Event]]:
    """Attach a file: `attachment_created` and `jira:issue_updated` (Attachment changelog)."""
    with state.lock:
        site, base = _site(state, site_name)
        issue = site.issue(key)
        file = Attachment(site.new_id(), filename, mime_type, content, actor_id, utcnow())
        issue.attachments.append(file)
        issue.updated = file.created
        changelog = {
            "id": site.new_id(),
            "items": [_item("Attachment", None, None, file.id, filename)],
        }
        events = [
            attachment_event(site, base, "attachment_created", issue, file),
            issue_event(site, base, UPDATED, "issue_updated", issue, actor_id, changelog=changelog),
        ]
        return views.attachment(site, base, file), events


def find_attachment(site: Site, attachment_id: str) -> tuple[Issue, Attachment]:
    """The attachment with that id and its issue, or a 404."""
    for issue in site.issues.values():
        for file in issue.attachments:
            if file.id == attachment_id:
                return issue, file
    raise JiraError(404, f"The attachment with id '{attachment_id}' does not exist")


def delete_attachment(
    state: SandboxState, site_name: str, attachment_id: str, actor_id: str
) -> list[Event]:
    """Remove a file: `attachment_deleted` and `jira:issue_updated`."""
    with state.lock:
        site, base = _site(state, site_name)
        issue, file = find_attachment(site, attachment_id)
        issue.attachments.remove(file)
        issue.updated = utcnow()
        item = _item("Attachment", file.id, file.filename, None, None)
        changelog = {"id": site.new_id(), "items": [item]}
        return [
            attachment_event(site, base, "attachment_deleted", issue, file),
            issue_event(site, base, UPDATED, "issue_updated", issue, actor_id, changelog=changelog),
        ]


def set_property(
    state: SandboxState, site_name: str, key: str, prop: str, value: Any, size: int
) -> bool:
    """Set an issue property; True when it was created (201), False when replaced (200)."""
    if not prop or len(prop) > 255:
        raise JiraError(400, "The property key must be 1 to 255 characters.")
    if size > PROPERTY_VALUE_MAX:
        raise JiraError(400, "The property value must not exceed 32768 bytes.")
    with state.lock:
        issue = state.site(site_name).issue(key)
        created = prop not in issue.properties
        issue.properties[prop] = value
        return created
