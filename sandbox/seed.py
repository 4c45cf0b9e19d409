"""The sites a sandbox starts with: one project each, Jira's default issue types,
statuses, priorities and transitions, and two people."""

from __future__ import annotations

import hashlib
import uuid

from sandbox.state import Named, Project, Site, Status, Transition, User

NAMESPACE = uuid.UUID("6f1c7a52-2d0e-4c53-9a59-3f7e1f2b8d10")
PEOPLE = (("Ada Lovelace", "ada"), ("Grace Hopper", "grace"))
ISSUE_TYPES = (
    Named("10001", "Task", "A small, distinct piece of work."),
    Named("10002", "Bug", "A problem or error."),
)
STATUSES = (
    Status("10000", "To Do", "new"),
    Status("3", "In Progress", "indeterminate"),
    Status("10001", "Done", "done"),
)
LABELS = ("backend", "customer", "frontend")
PRIORITIES = (Named("2", "High"), Named("3", "Medium"), Named("4", "Low"))
TRANSITIONS = (
    Transition("11", "To Do", "10000"),
    Transition("21", "In Progress", "3"),
    Transition("31", "Done", "10001"),
)


def stable_uuid(seed: str, *parts: str) -> str:
    """A uuid that depends only on the seed and the parts."""
    return str(uuid.uuid5(NAMESPACE, ":".join((seed, *parts))))


def account_id(seed: str, *parts: str) -> str:
    """A person's accountId in Atlassian's `557058:<uuid>` form."""
    return "557058:" + stable_uuid(seed, "user", *parts)


def app_account_id(seed: str, site: str, app_key: str) -> str:
    """An app user's accountId: 24 hex digits, like Atlassian's opaque ids."""
    return hashlib.sha256(f"{seed}:{site}:app:{app_key}".encode()).hexdigest()[:24]


def build_site(name: str, seed: str) -> Site:
    """A fresh site named `name` with its project `NAM` and two people."""
    users = {}
    for display, handle in PEOPLE:
        user = User(account_id(seed, name, handle), display, f"{handle}@{name}.example.com")
        users[user.account_id] = user
    project = Project("10000", name[:3].upper(), f"{name.capitalize()} Project")
    return Site(
        name=name,
        cloud_id=stable_uuid(seed, "cloud", name),
        users=users,
        humans=list(users),
        projects={project.id: project},
        issue_types=list(ISSUE_TYPES),
        statuses=list(STATUSES),
        priorities=list(PRIORITIES),
        default_priority_id="3",
        transitions=list(TRANSITIONS),
        labels=list(LABELS),
        project_counters={project.id: 0},
    )
