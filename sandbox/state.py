"""The in-memory data model: sites and their issues, installations, webhook deliveries.

One condition variable (`SandboxState.lock`, over an RLock) guards everything here. Hold it
only to read or change state; never while making an HTTP call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.errors import JiraError


@dataclass
class User:
    """A Jira user: a person (`atlassian`) or an app's bot user (`app`)."""

    account_id: str
    display_name: str
    email: str | None = None
    account_type: str = "atlassian"
    time_zone: str = "Etc/UTC"
    email_public: bool = False
    active: bool = True  # False once the Atlassian account is closed (privacy.py)


@dataclass(frozen=True)
class Named:
    """An id/name pair: issue types and priorities."""

    id: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class Status:
    """A workflow status and its category key (`new`, `indeterminate`, `done`)."""

    id: str
    name: str
    category: str


@dataclass(frozen=True)
class Transition:
    """A workflow transition into one status: global (from any other status) when
    `from_status_ids` is empty, otherwise only from those statuses."""

    id: str
    name: str
    to_status_id: str
    from_status_ids: tuple[str, ...] = ()

    def available_from(self, status_id: str) -> bool:
        if self.to_status_id == status_id:
            return False
        return not self.from_status_ids or status_id in self.from_status_ids


@dataclass(frozen=True)
class Workflow:
    """A named workflow: where new issues start and the transitions between statuses."""

    name: str
    initial_status_id: str
    transitions: tuple[Transition, ...]


@dataclass(frozen=True)
class Project:
    """A Jira project; every site has one, seeded at start."""

    id: str
    key: str
    name: str


@dataclass
class Comment:
    """An issue comment; `body` is an ADF document."""

    id: str
    body: dict[str, Any]
    author_id: str
    update_author_id: str
    created: datetime
    updated: datetime


@dataclass
class Attachment:
    """A file attached to an issue."""

    id: str
    filename: str
    mime_type: str
    content: bytes
    author_id: str
    created: datetime


@dataclass
class Issue:
    """An issue; `description` is an ADF document or None."""

    id: str
    key: str
    project_id: str
    issue_type_id: str
    summary: str
    description: dict[str, Any] | None
    status_id: str
    priority_id: str
    labels: list[str]
    assignee_id: str | None
    reporter_id: str
    creator_id: str
    created: datetime
    updated: datetime
    comments: list[Comment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Site:
    """One Jira Cloud site, served under `{sandbox}/jira/{name}`."""

    name: str
    cloud_id: str
    users: dict[str, User]
    humans: list[str]
    projects: dict[str, Project]
    issue_types: list[Named]
    statuses: list[Status]
    priorities: list[Named]
    default_priority_id: str
    workflows: dict[str, Workflow]
    project_workflow: dict[str, str]
    labels: list[str] = field(default_factory=list)
    # Account ids holding Jira's global ADMINISTER permission (rest_permissions.py).
    admins: set[str] = field(default_factory=set)
    issues: dict[str, Issue] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    project_counters: dict[str, int] = field(default_factory=dict)
    next_id: int = 10000

    def new_id(self) -> str:
        """A fresh numeric id (issues, comments, attachments, changelogs share one counter)."""
        self.next_id += 1
        return str(self.next_id)

    def project(self, id_or_key: str) -> Project | None:
        """The project with that id or key, if any."""
        found = self.projects.get(id_or_key)
        if found:
            return found
        return next((p for p in self.projects.values() if p.key == id_or_key.upper()), None)

    def issue(self, id_or_key: str) -> Issue:
        """The issue with that id or key; a Jira-style 404 otherwise."""
        issue_id = id_or_key if id_or_key in self.issues else self.keys.get(id_or_key.upper())
        if issue_id is None or issue_id not in self.issues:
            raise JiraError(404, "Issue does not exist or you do not have permission to see it.")
        return self.issues[issue_id]

    def status(self, status_id: str) -> Status:
        return next(s for s in self.statuses if s.id == status_id)

    def issue_type(self, type_id: str) -> Named:
        return next(t for t in self.issue_types if t.id == type_id)

    def priority(self, priority_id: str) -> Named:
        return next(p for p in self.priorities if p.id == priority_id)

    def workflow(self, project_id: str) -> Workflow:
        """The workflow a project uses."""
        return self.workflows[self.project_workflow[project_id]]

    def all_labels(self) -> list[str]:
        """Labels known on the site: the seeded ones and every one in use."""
        used = {label for issue in self.issues.values() for label in issue.labels}
        return sorted(used | set(self.labels))


@dataclass
class Installation:
    """A Connect app installed on a site. `shared_secret` never leaves the process."""

    site: str
    app_key: str
    client_key: str
    shared_secret: str
    base_url: str
    name: str
    lifecycle: dict[str, str]
    webhooks: list[tuple[str, str]]
    scopes: list[str]
    app_account_id: str
    installed_at: str
    enabled: bool = True

    def public(self) -> dict[str, Any]:
        """The installation as the control API shows it: no secrets."""
        return {
            "site": self.site,
            "app_key": self.app_key,
            "clientKey": self.client_key,
            "baseUrl": self.base_url,
            "enabled": self.enabled,
            "scopes": list(self.scopes),
            "webhooks": [{"event": event, "url": url} for event, url in self.webhooks],
            "appAccountId": self.app_account_id,
            "installedAt": self.installed_at,
        }


@dataclass
class Delivery:
    """One webhook sent to one app: the body and identifier stay fixed across retries."""

    identifier: str
    site: str
    app_key: str
    client_key: str
    event: str
    url: str
    issue_key: str | None
    body: bytes
    flow: str
    created_at: str
    state: str = "pending"
    attempts: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0
    next_at: float = 0.0
    in_flight: bool = False
    kind: str = "connect"
    account_id: str = ""

    def public(self) -> dict[str, Any]:
        """The delivery as the control API lists it."""
        return {
            "identifier": self.identifier,
            "site": self.site,
            "app_key": self.app_key,
            "kind": self.kind,
            "event": self.event,
            "url": self.url,
            "issue_key": self.issue_key,
            "flow": self.flow,
            "state": self.state,
            "created_at": self.created_at,
            "attempts": [dict(attempt) for attempt in self.attempts],
        }


class SandboxState:
    """Everything the sandbox knows, behind one lock."""

    def __init__(self, sites: dict[str, Site], public_url: str = "") -> None:
        self.lock = threading.Condition(threading.RLock())
        self.sites = sites
        self.public_url = public_url.rstrip("/")
        self.installations: dict[tuple[str, str], Installation] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.pending: set[str] = set()
        self.signing_keys: dict[str, Any] = {}
        self.current_kid = ""

    def site(self, name: str) -> Site:
        """The named site, or a 404."""
        found = self.sites.get(name)
        if found is None:
            raise JiraError(404, f"No site named {name!r}.")
        return found

    def site_url(self, name: str) -> str:
        """A site's base URL, the stand-in for `https://{name}.atlassian.net`."""
        return f"{self.public_url}/jira/{name}"

    def installation(self, site: str, app_key: str) -> Installation | None:
        """The installation of `app_key` on `site` (tests may read its shared secret)."""
        with self.lock:
            return self.installations.get((site, app_key))

    def installations_on(self, site: str) -> Iterator[Installation]:
        """Installations on one site (call with the lock held)."""
        return (inst for (name, _), inst in self.installations.items() if name == site)
