"""Which scope each REST endpoint needs, for both kinds of app, in one registry.

OAuth 2.0 (3LO) apps need every classic scope listed for the endpoint (as Atlassian's REST
reference lists them); Connect apps need the listed scope or a higher one in Connect's
ladder READ < WRITE < DELETE < PROJECT_ADMIN < ADMIN. Deleting issues, comments and
attachments needs DELETE; issue properties are WRITE, like Jira.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

READ_WORK, WRITE_WORK, READ_USER = "read:jira-work", "write:jira-work", "read:jira-user"
WEBHOOK = "manage:jira-webhook"
REPORT_PD = "report:personal-data"
OFFLINE = "offline_access"
CONNECT_LADDER = ("READ", "WRITE", "DELETE", "PROJECT_ADMIN", "ADMIN")
OAUTH_SCOPES: dict[str, str] = {
    READ_WORK: "Read Jira project and issue data, search for issues and objects associated "
    "with issues like attachments and worklogs",
    WRITE_WORK: "Create and edit issues in Jira, post comments as the user, create worklogs, "
    "and delete issues",
    READ_USER: "View user information in Jira that the user has access to, including "
    "usernames, email addresses, and avatars",
    "manage:jira-project": "Create and edit project settings and create new project-level "
    "objects (for example, versions and components)",
    "manage:jira-configuration": "Take Jira administration actions (for example, create "
    "projects and custom fields, view workflows, manage issue link types)",
    WEBHOOK: "Manage Jira webhooks",
    "read:me": "View active user profile",
    REPORT_PD: "Report the user accounts the app stores personal data for",
    OFFLINE: "Maintain access to data you have given it access to",
}


@dataclass(frozen=True)
class Rule:
    """One endpoint and the scopes it needs."""

    method: str
    path: str
    oauth: tuple[str, ...]
    connect: str

    def public(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "oauth": list(self.oauth),
            "connect": self.connect,
        }


def _rules() -> dict[str, Rule]:
    issue, api = "/rest/api/3/issue/{issueIdOrKey}", "/rest/api/3"
    comment, prop = f"{issue}/comment/{{id}}", f"{issue}/properties/{{propertyKey}}"
    read, write, user = (READ_WORK,), (WRITE_WORK,), (READ_USER,)
    hooks = (READ_WORK, WEBHOOK)
    table = {
        "myself": ("GET", f"{api}/myself", user, "READ"),
        "server_info": ("GET", f"{api}/serverInfo", user, "READ"),
        "get_user": ("GET", f"{api}/user", user, "READ"),
        "user_search": ("GET", f"{api}/user/search", user, "READ"),
        "user_bulk": ("GET", f"{api}/user/bulk", user, "READ"),
        "check_permissions": ("POST", f"{api}/permissions/check", read, "READ"),
        "get_project": ("GET", f"{api}/project/{{projectIdOrKey}}", read, "READ"),
        "search_projects": ("GET", f"{api}/project/search", read, "READ"),
        "project_statuses": ("GET", f"{api}/project/{{projectIdOrKey}}/statuses", read, "READ"),
        "list_priorities": ("GET", f"{api}/priority", read, "READ"),
        "list_issue_types": ("GET", f"{api}/issuetype", read, "READ"),
        "list_labels": ("GET", f"{api}/label", read, "READ"),
        "create_issue": ("POST", f"{api}/issue", write, "WRITE"),
        "get_issue": ("GET", issue, read, "READ"),
        "edit_issue": ("PUT", issue, write, "WRITE"),
        "delete_issue": ("DELETE", issue, write, "DELETE"),
        "get_transitions": ("GET", f"{issue}/transitions", read, "READ"),
        "do_transition": ("POST", f"{issue}/transitions", write, "WRITE"),
        "list_comments": ("GET", f"{issue}/comment", read, "READ"),
        "add_comment": ("POST", f"{issue}/comment", write, "WRITE"),
        "get_comment": ("GET", comment, read, "READ"),
        "edit_comment": ("PUT", comment, write, "WRITE"),
        "delete_comment": ("DELETE", comment, write, "DELETE"),
        "add_attachments": ("POST", f"{issue}/attachments", write, "WRITE"),
        "get_attachment": ("GET", f"{api}/attachment/{{id}}", read, "READ"),
        "attachment_content": ("GET", f"{api}/attachment/content/{{id}}", read, "READ"),
        "delete_attachment": ("DELETE", f"{api}/attachment/{{id}}", write, "DELETE"),
        "list_properties": ("GET", f"{issue}/properties", read, "READ"),
        "get_property": ("GET", prop, read, "READ"),
        "set_property": ("PUT", prop, write, "WRITE"),
        "delete_property": ("DELETE", prop, write, "WRITE"),
        "search_jql_get": ("GET", f"{api}/search/jql", read, "READ"),
        "search_jql_post": ("POST", f"{api}/search/jql", read, "READ"),
        "approximate_count": ("POST", f"{api}/search/approximate-count", read, "READ"),
        "search_get": ("GET", f"{api}/search", read, "READ"),
        "search_post": ("POST", f"{api}/search", read, "READ"),
        "register_webhooks": ("POST", f"{api}/webhook", hooks, "READ"),
        "list_webhooks": ("GET", f"{api}/webhook", hooks, "READ"),
        "delete_webhooks": ("DELETE", f"{api}/webhook", hooks, "READ"),
        "refresh_webhooks": ("PUT", f"{api}/webhook/refresh", hooks, "READ"),
        # The personal-data reporting API (not under /rest/api/3; rest_privacy.py).
        "report_accounts": ("POST", "/app/report-accounts/", (REPORT_PD,), "READ"),
    }
    return {name: Rule(*row) for name, row in table.items()}


RULES = _rules()


def rule_for(endpoint: str | None) -> Rule | None:
    """The rule for a Flask endpoint (`blueprint.function`), if there is one."""
    return RULES.get((endpoint or "").rsplit(".", 1)[-1])


def connect_allows(granted: Iterable[str], required: str) -> bool:
    """True when a Connect app's descriptor scopes reach `required` on the ladder."""
    levels = [CONNECT_LADDER.index(s.upper()) for s in granted if s.upper() in CONNECT_LADDER]
    return bool(levels) and max(levels) >= CONNECT_LADDER.index(required)


def oauth_allows(granted: Iterable[str], required: Iterable[str]) -> bool:
    """True when an OAuth token holds every scope the endpoint lists."""
    return set(required) <= set(granted)


def unknown_scopes(requested: Iterable[str]) -> list[str]:
    """Requested OAuth scopes the sandbox (and Jira's classic scopes) do not know."""
    return [scope for scope in requested if scope not in OAUTH_SCOPES]


def listing() -> list[dict[str, Any]]:
    """The registry as `GET /sandbox/scopes` shows it."""
    return [{"endpoint": name, **rule.public()} for name, rule in RULES.items()]
