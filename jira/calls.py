"""The registry of every Jira REST call the engine makes, each declared once with the
scopes it needs. It is the only source of the scopes Tandem requests: the Connect
descriptor, the OAuth consent and the Forge manifest are all derived from it."""

from __future__ import annotations

from dataclasses import dataclass

# OAuth scope that lets us refresh without the user: always requested with the rest.
OAUTH_OFFLINE = "offline_access"


@dataclass(frozen=True)
class JiraCall:
    """One REST operation: how it is sent and what it needs."""

    name: str
    method: str
    path: str  # relative to the site's REST root, with {placeholders}
    oauth_scope: str
    connect_scope: str
    points: int = 1  # estimated cost under Atlassian's points-based quotas

    def render(self, **params: str) -> str:
        """The path with its placeholders filled (values must already be safe)."""
        return self.path.format(**params)


_CALLS = (
    JiraCall("myself", "GET", "/rest/api/3/myself", "read:jira-user", "READ"),
    JiraCall("get_issue", "GET", "/rest/api/3/issue/{key}", "read:jira-work", "READ"),
    JiraCall("search", "POST", "/rest/api/3/search/jql", "read:jira-work", "READ", points=2),
    JiraCall(
        "count_issues", "POST", "/rest/api/3/search/approximate-count", "read:jira-work", "READ"
    ),
    JiraCall("create_issue", "POST", "/rest/api/3/issue", "write:jira-work", "WRITE", points=2),
    JiraCall("edit_issue", "PUT", "/rest/api/3/issue/{key}", "write:jira-work", "WRITE", points=2),
    JiraCall("delete_issue", "DELETE", "/rest/api/3/issue/{key}", "write:jira-work", "DELETE", 2),
    JiraCall(
        "get_transitions", "GET", "/rest/api/3/issue/{key}/transitions", "read:jira-work", "READ"
    ),
    JiraCall(
        "transition", "POST", "/rest/api/3/issue/{key}/transitions", "write:jira-work", "WRITE", 2
    ),
    JiraCall("get_comments", "GET", "/rest/api/3/issue/{key}/comment", "read:jira-work", "READ"),
    JiraCall(
        "add_comment", "POST", "/rest/api/3/issue/{key}/comment", "write:jira-work", "WRITE", 2
    ),
    JiraCall(
        "edit_comment", "PUT", "/rest/api/3/issue/{key}/comment/{id}", "write:jira-work", "WRITE", 2
    ),
    JiraCall(
        "delete_comment",
        "DELETE",
        "/rest/api/3/issue/{key}/comment/{id}",
        "write:jira-work",
        "DELETE",
        2,
    ),
    JiraCall(
        "add_attachment",
        "POST",
        "/rest/api/3/issue/{key}/attachments",
        "write:jira-work",
        "WRITE",
        3,
    ),
    JiraCall(
        "get_attachment_content",
        "GET",
        "/rest/api/3/attachment/content/{id}",
        "read:jira-work",
        "READ",
        2,
    ),
    JiraCall(
        "delete_attachment", "DELETE", "/rest/api/3/attachment/{id}", "write:jira-work", "DELETE", 2
    ),
    JiraCall(
        "get_property",
        "GET",
        "/rest/api/3/issue/{key}/properties/{property}",
        "read:jira-work",
        "READ",
    ),
    JiraCall(
        "set_property",
        "PUT",
        "/rest/api/3/issue/{key}/properties/{property}",
        "write:jira-work",
        "WRITE",
    ),
    JiraCall(
        "delete_property",
        "DELETE",
        "/rest/api/3/issue/{key}/properties/{property}",
        "write:jira-work",
        "WRITE",
    ),
    JiraCall("get_user", "GET", "/rest/api/3/user", "read:jira-user", "READ"),
    JiraCall("search_users", "GET", "/rest/api/3/user/search", "read:jira-user", "READ"),
    JiraCall("get_project", "GET", "/rest/api/3/project/{key}", "read:jira-work", "READ"),
    JiraCall("get_priorities", "GET", "/rest/api/3/priority", "read:jira-work", "READ"),
    JiraCall("get_issue_types", "GET", "/rest/api/3/issuetype", "read:jira-work", "READ"),
)

CALLS: dict[str, JiraCall] = {call.name: call for call in _CALLS}


def connect_scopes() -> list[str]:
    """The Connect descriptor's scopes: exactly what the registered calls need."""
    order = ("READ", "WRITE", "DELETE", "PROJECT_ADMIN", "ADMIN")
    needed = {call.connect_scope for call in CALLS.values()}
    return [scope for scope in order if scope in needed]


def oauth_scopes() -> list[str]:
    """The OAuth 2.0 (3LO) scopes to request: the calls' scopes plus offline access."""
    return sorted({call.oauth_scope for call in CALLS.values()} | {OAUTH_OFFLINE})
