"""The sites a sandbox starts with: two projects each (one with a simple global workflow,
one with a review workflow that needs several steps), Jira's default issue types,
statuses and priorities, and a handful of people chosen to exercise cross-site mapping."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from sandbox.state import Named, Project, Site, Status, Transition, User, Workflow

NAMESPACE = uuid.UUID("6f1c7a52-2d0e-4c53-9a59-3f7e1f2b8d10")
INTEGRATION = "integration"


@dataclass(frozen=True)
class Person:
    """A seeded person: whether their email and accountId are the same on every site,
    whether their email is visible to apps, and whether they act in the control plane."""

    display_name: str
    handle: str
    shared_email: bool
    shared_account: bool
    email_public: bool
    human: bool = True


SITE_ADMINS = ("ada",)  # Jira administrators of every seeded site
PEOPLE = (
    Person("Ada Lovelace", "ada", False, False, True),
    Person("Grace Hopper", "grace", False, False, False),
    Person("Margaret Hamilton", "margaret", True, False, True),
    Person("Alan Turing", "alan", True, False, False),
    Person("Katherine Johnson", "katherine", True, True, True),
    Person("Integration User", INTEGRATION, True, True, False, human=False),
)
ISSUE_TYPES = (
    Named("10001", "Task", "A small, distinct piece of work."),
    Named("10002", "Bug", "A problem or error."),
)
TO_DO, IN_PROGRESS, IN_REVIEW, DONE = "10000", "3", "10002", "10001"
STATUSES = (
    Status(TO_DO, "To Do", "new"),
    Status(IN_PROGRESS, "In Progress", "indeterminate"),
    Status(IN_REVIEW, "In Review", "indeterminate"),
    Status(DONE, "Done", "done"),
)
LABELS = ("backend", "customer", "frontend")
PRIORITIES = (Named("2", "High"), Named("3", "Medium"), Named("4", "Low"))
SIMPLE = Workflow(
    "simple",
    TO_DO,
    (
        Transition("11", "To Do", TO_DO),
        Transition("21", "In Progress", IN_PROGRESS),
        Transition("31", "Done", DONE),
    ),
)
REVIEW = Workflow(
    "review",
    TO_DO,
    (
        Transition("21", "Start Progress", IN_PROGRESS, (TO_DO,)),
        Transition("11", "Stop Progress", TO_DO, (IN_PROGRESS,)),
        Transition("41", "Submit for Review", IN_REVIEW, (IN_PROGRESS,)),
        Transition("61", "Request Changes", IN_PROGRESS, (IN_REVIEW,)),
        Transition("51", "Approve", DONE, (IN_REVIEW,)),
        Transition("71", "Reopen", TO_DO, (DONE,)),
    ),
)
WORKFLOWS = {SIMPLE.name: SIMPLE, REVIEW.name: REVIEW}


def stable_uuid(seed: str, *parts: str) -> str:
    """A uuid that depends only on the seed and the parts."""
    return str(uuid.uuid5(NAMESPACE, ":".join((seed, *parts))))


def account_id(seed: str, *parts: str) -> str:
    """A person's accountId in Atlassian's `557058:<uuid>` form."""
    return "557058:" + stable_uuid(seed, "user", *parts)


def person_account_id(seed: str, site: str, person: Person) -> str:
    """The person's accountId on `site` (the same everywhere for shared accounts)."""
    return account_id(seed, "shared" if person.shared_account else site, person.handle)


def site_admin_account_id(seed: str, site: str) -> str:
    """The accountId of the first Jira administrator of a seeded site (Ada)."""
    person = next(p for p in PEOPLE if p.handle == SITE_ADMINS[0])
    return person_account_id(seed, site, person)


def integration_account_id(seed: str) -> str:
    """The shared account that consents to OAuth apps unless another is named."""
    person = next(p for p in PEOPLE if p.handle == INTEGRATION)
    return person_account_id(seed, "", person)


def app_account_id(seed: str, site: str, app_key: str) -> str:
    """An app user's accountId: 24 hex digits, like Atlassian's opaque ids."""
    return hashlib.sha256(f"{seed}:{site}:app:{app_key}".encode()).hexdigest()[:24]


def _user(seed: str, site: str, person: Person) -> User:
    domain = "example.com" if person.shared_email else f"{site}.example.com"
    return User(
        person_account_id(seed, site, person),
        person.display_name,
        f"{person.handle}@{domain}",
        email_public=person.email_public,
    )


def build_site(name: str, seed: str) -> Site:
    """A fresh site: projects `NAM` (simple workflow) and `NAMR` (review workflow)."""
    users = {}
    for person in PEOPLE:
        user = _user(seed, name, person)
        users[user.account_id] = user
    humans = [person_account_id(seed, name, p) for p in PEOPLE if p.human]
    admins = {person_account_id(seed, name, p) for p in PEOPLE if p.handle in SITE_ADMINS}
    key, title = name[:3].upper(), name.capitalize()
    projects = [
        Project("10000", key, f"{title} Project"),
        Project("10001", f"{key}R", f"{title} Review"),
    ]
    return Site(
        name=name,
        cloud_id=stable_uuid(seed, "cloud", name),
        users=users,
        humans=humans,
        projects={p.id: p for p in projects},
        issue_types=list(ISSUE_TYPES),
        statuses=list(STATUSES),
        priorities=list(PRIORITIES),
        default_priority_id="3",
        workflows=dict(WORKFLOWS),
        project_workflow={"10000": SIMPLE.name, "10001": REVIEW.name},
        labels=list(LABELS),
        admins=admins,
        project_counters={p.id: 0 for p in projects},
    )
