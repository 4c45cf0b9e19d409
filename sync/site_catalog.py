"""What the integration form offers from Jira: the workspace's sites (installed and
connected), each site's projects, and a project's statuses with the site's priorities and
issue types (the mapping tables' choices).

Read through the registered calls (``search_projects``, ``get_project_statuses``,
``get_priorities``, ``get_issue_types``) with a short retry budget, since a person waits
on the page, and kept in Redis for ``CACHE_SECONDS`` per site, so a form that reloads
while it is filled in costs no further calls."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import select

from jira.errors import JiraError
from jira.meter import CallMeter
from models.connections import Connection
from models.installations import Installation
from runtime import Runtime
from sync.sites import ACTIVE, client_for

log = logging.getLogger(__name__)
CACHE_SECONDS = 300
MAX_PROJECT_PAGES = 10  # 1,000 projects: more than a picker can usefully show
END_KINDS = ("installation", "connection")


class CatalogUnavailable(RuntimeError):
    """The site could not be asked; the message says why in plain words."""


@dataclass(frozen=True)
class SiteOption:
    """One site an integration can use as an end."""

    kind: str  # "installation" or "connection"
    id: uuid.UUID
    url: str
    usable: bool
    reason: str | None = None

    @property
    def value(self) -> str:
        """How a form names the end: ``kind:id``."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class ProjectValues:
    """The names a project's issues can carry, for the mapping tables."""

    statuses: tuple[str, ...]
    priorities: tuple[str, ...]
    issue_types: tuple[str, ...]

    def of(self, field: str) -> tuple[str, ...]:
        """The values of a mapped field: status, priority or issuetype."""
        return {"status": self.statuses, "priority": self.priorities}.get(field, self.issue_types)


def parse_end(value: object) -> tuple[str, uuid.UUID] | None:
    """``kind:id`` from a form as (kind, id); None when it is not one."""
    kind, _, raw = str(value or "").partition(":")
    if kind not in END_KINDS:
        return None
    try:
        return kind, uuid.UUID(raw)
    except ValueError:
        return None


def workspace_sites(runtime: Runtime, tenant_id: uuid.UUID) -> list[SiteOption]:
    """The installed sites and the connected sites of the workspace, usable ones first."""
    with runtime.db.tenant_session(tenant_id) as session:
        sites = [
            SiteOption(
                "installation",
                row.id,
                row.base_url,
                row.status in ACTIVE,
                None if row.status in ACTIVE else f"Tandem is {row.status} on this site",
            )
            for row in session.execute(select(Installation).order_by(Installation.base_url))
            .scalars()
            .all()
        ]
        sites += [
            SiteOption(
                "connection",
                row.id,
                row.site_url,
                row.status == "active",
                row.status_reason if row.status != "active" else None,
            )
            for row in session.execute(select(Connection).order_by(Connection.site_url))
            .scalars()
            .all()
        ]
    return sorted(sites, key=lambda site: not site.usable)


def _cached(
    runtime: Runtime, key: str, load: Callable[[], Any], what: str, site: str = "the site"
) -> Any:
    try:
        raw = runtime.redis.get(key)
    except (redis.ConnectionError, redis.TimeoutError):
        raw = None
    if raw:
        return json.loads(raw)
    try:
        value = load()
    except JiraError as error:
        log.info("catalog: %s not read (%s)", what, type(error).__name__)
        raise CatalogUnavailable(f"Jira did not list the {what}: {error}") from None
    try:
        runtime.redis.set(key, json.dumps(value), ex=CACHE_SECONDS)
    except (redis.ConnectionError, redis.TimeoutError):
        log.warning("redis unreachable: the %s of %s are not cached", what, site)
    return value


def _client(runtime: Runtime, tenant_id: uuid.UUID, kind: str, end_id: uuid.UUID):
    with runtime.db.tenant_session(tenant_id) as session:
        try:
            client, _site = client_for(runtime, session, kind, end_id, CallMeter())
        except JiraError as error:
            raise CatalogUnavailable(str(error)) from None
    client.max_attempts, client.max_wait_seconds = 2, 1.0  # a person waits on the page
    return client


def _key(tenant_id: uuid.UUID, end_id: uuid.UUID, what: str) -> str:
    return f"tandem:catalog:{tenant_id}:{end_id}:{what}"


def site_projects(
    runtime: Runtime, tenant_id: uuid.UUID, kind: str, end_id: uuid.UUID
) -> list[tuple[str, str]]:
    """The site's projects as (key, name), by key. CatalogUnavailable if it cannot say."""

    def load() -> list[list[str]]:
        client = _client(runtime, tenant_id, kind, end_id)
        found: list[list[str]] = []
        for page in range(MAX_PROJECT_PAGES):
            body = client.call(
                "search_projects", params={"startAt": page * 100, "maxResults": 100}
            ).json()
            found += [[str(p["key"]), str(p.get("name") or p["key"])] for p in body["values"]]
            if body.get("isLast", True):
                break
        return sorted(found)

    return [
        tuple(row)
        for row in _cached(runtime, _key(tenant_id, end_id, "projects"), load, "projects")
    ]


def project_values(
    runtime: Runtime, tenant_id: uuid.UUID, kind: str, end_id: uuid.UUID, project: str
) -> ProjectValues:
    """The project's statuses and the site's priorities and issue types, by name."""

    def load() -> dict[str, list[str]]:
        client = _client(runtime, tenant_id, kind, end_id)
        per_type = client.call("get_project_statuses", path_params={"key": project}).json()
        statuses = {s["name"]: None for t in per_type for s in t.get("statuses", [])}
        return {
            "statuses": list(statuses),
            "priorities": [p["name"] for p in client.call("get_priorities").json()],
            "issue_types": [t["name"] for t in client.call("get_issue_types").json()],
        }

    found = _cached(
        runtime, _key(tenant_id, end_id, f"values:{project}"), load, f"values of {project}"
    )
    return ProjectValues(
        tuple(found["statuses"]), tuple(found["priorities"]), tuple(found["issue_types"])
    )
