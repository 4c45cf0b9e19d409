"""The registry of every Jira REST call the engine makes, each declared once with the
scopes it needs. It is the only source of the scopes Tandem requests: the Connect
descriptor, the OAuth consent and the Forge manifest are all derived from it."""

from __future__ import annotations

from dataclasses import dataclass

# OAuth scope that lets us refresh without the user: always requested with the rest.
OAUTH_OFFLINE = "offline_access"
# Forge scope that makes Forge send the app system token with each invocation.
FORGE_SYSTEM_TOKEN = "read:app-system-token"  # noqa: S105 - a scope name
READ_WORK, WRITE_WORK, READ_USER = ("read:jira-work",), ("write:jira-work",), ("read:jira-user",)
MANAGE_WEBHOOKS = ("read:jira-work", "manage:jira-webhook")
REPORT_PERSONAL_DATA = ("report:personal-data",)


@dataclass(frozen=True)
class JiraCall:
    """One REST operation: how it is sent and what it needs."""

    name: str
    method: str
    path: str  # relative to the site's REST root, with {placeholders}
    oauth_scopes: tuple[str, ...]  # every one is needed (Atlassian's classic scopes)
    connect_scope: str | None  # None: OAuth-only (Connect apps get descriptor webhooks)
    points: int = 1  # estimated cost under Atlassian's points-based quotas

    def render(self, **params: str) -> str:
        """The path with its placeholders filled (values must already be safe)."""
        return self.path.format(**params)


_CALLS = (
    JiraCall("myself", "GET", "/rest/api/3/myself", READ_USER, "READ"),
    # A site installed through Forge learns its own base URL here.
    JiraCall("server_info", "GET", "/rest/api/3/serverInfo", READ_USER, "READ"),
    JiraCall("get_issue", "GET", "/rest/api/3/issue/{key}", READ_WORK, "READ"),
    JiraCall("search", "POST", "/rest/api/3/search/jql", READ_WORK, "READ", points=2),
    JiraCall("count_issues", "POST", "/rest/api/3/search/approximate-count", READ_WORK, "READ"),
    JiraCall("create_issue", "POST", "/rest/api/3/issue", WRITE_WORK, "WRITE", points=2),
    JiraCall("edit_issue", "PUT", "/rest/api/3/issue/{key}", WRITE_WORK, "WRITE", points=2),
    JiraCall("delete_issue", "DELETE", "/rest/api/3/issue/{key}", WRITE_WORK, "DELETE", 2),
    JiraCall("get_transitions", "GET", "/rest/api/3/issue/{key}/transitions", READ_WORK, "READ"),
    JiraCall("transition", "POST", "/rest/api/3/issue/{key}/transitions", WRITE_WORK, "WRITE", 2),
    JiraCall("get_comments", "GET", "/rest/api/3/issue/{key}/comment", READ_WORK, "READ"),
    JiraCall("add_comment", "POST", "/rest/api/3/issue/{key}/comment", WRITE_WORK, "WRITE", 2),
    JiraCall("edit_comment", "PUT", "/rest/api/3/issue/{key}/comment/{id}", WRITE_WORK, "WRITE", 2),
    JiraCall(
        "delete_comment",
        "DELETE",
        "/rest/api/3/issue/{key}/comment/{id}",
        WRITE_WORK,
        "DELETE",
        2,
    ),
    JiraCall(
        "add_attachment",
        "POST",
        "/rest/api/3/issue/{key}/attachments",
        WRITE_WORK,
        "WRITE",
        3,
    ),
    JiraCall(
        "get_attachment_content",
        "GET",
        "/rest/api/3/attachment/content/{id}",
        READ_WORK,
        "READ",
        2,
    ),
    JiraCall("delete_attachment", "DELETE", "/rest/api/3/attachment/{id}", WRITE_WORK, "DELETE", 2),
    JiraCall(
        "get_property",
        "GET",
        "/rest/api/3/issue/{key}/properties/{property}",
        READ_WORK,
        "READ",
    ),
    JiraCall(
        "set_property",
        "PUT",
        "/rest/api/3/issue/{key}/properties/{property}",
        WRITE_WORK,
        "WRITE",
    ),
    JiraCall(
        "delete_property",
        "DELETE",
        "/rest/api/3/issue/{key}/properties/{property}",
        WRITE_WORK,
        "WRITE",
    ),
    JiraCall("get_user", "GET", "/rest/api/3/user", READ_USER, "READ"),
    JiraCall("search_users", "GET", "/rest/api/3/user/search", READ_USER, "READ"),
    # Admin pages confirm a Jira user's ADMINISTER permission (auth/jira_admin.py).
    JiraCall("check_permissions", "POST", "/rest/api/3/permissions/check", READ_WORK, "READ"),
    JiraCall("get_project", "GET", "/rest/api/3/project/{key}", READ_WORK, "READ"),
    # The admin pages' project pickers and mapping tables (sync/site_catalog.py).
    JiraCall("search_projects", "GET", "/rest/api/3/project/search", READ_WORK, "READ"),
    JiraCall(
        "get_project_statuses", "GET", "/rest/api/3/project/{key}/statuses", READ_WORK, "READ"
    ),
    JiraCall("get_priorities", "GET", "/rest/api/3/priority", READ_WORK, "READ"),
    JiraCall("get_issue_types", "GET", "/rest/api/3/issuetype", READ_WORK, "READ"),
    # Dynamic webhooks for OAuth-connected sites (writes cost only the base point).
    JiraCall("register_webhooks", "POST", "/rest/api/3/webhook", MANAGE_WEBHOOKS, None),
    JiraCall("list_webhooks", "GET", "/rest/api/3/webhook", MANAGE_WEBHOOKS, None),
    JiraCall("delete_webhooks", "DELETE", "/rest/api/3/webhook", MANAGE_WEBHOOKS, None),
    JiraCall("refresh_webhooks", "PUT", "/rest/api/3/webhook/refresh", MANAGE_WEBHOOKS, None),
    # Atlassian's personal-data reporting API (compliance/personal_data.py): on the site's
    # base URL for Connect, at the API gateway's root (not a site's) for OAuth 2.0 apps.
    # Atlassian names no Connect scope for it; READ is the least any descriptor holds.
    JiraCall("report_accounts", "POST", "/app/report-accounts/", REPORT_PERSONAL_DATA, "READ"),
)

CALLS: dict[str, JiraCall] = {call.name: call for call in _CALLS}


def connect_calls() -> list[JiraCall]:
    """The calls a Connect installation makes (OAuth-only calls left out)."""
    return [call for call in CALLS.values() if call.connect_scope is not None]


def connect_scopes() -> list[str]:
    """The Connect descriptor's scopes: exactly what the registered Connect calls need."""
    order = ("READ", "WRITE", "DELETE", "PROJECT_ADMIN", "ADMIN")
    needed = {call.connect_scope for call in connect_calls()}
    return [scope for scope in order if scope in needed]


def forge_scopes() -> list[str]:
    """The Forge manifest's permission scopes: the OAuth scopes of the calls a site
    makes through Connect or Forge alike (no dynamic webhooks: Forge has triggers), plus
    the app system token."""
    needed = {scope for call in connect_calls() for scope in call.oauth_scopes}
    return sorted(needed | {FORGE_SYSTEM_TOKEN})


def oauth_scopes() -> list[str]:
    """The OAuth 2.0 (3LO) scopes to request: the calls' scopes plus offline access."""
    needed = {scope for call in CALLS.values() for scope in call.oauth_scopes}
    return sorted(needed | {OAUTH_OFFLINE})
