"""Disconnect & clean up as its admin page follows it: the run a page shows (one of the
workspace's own, named by id, else the workspace's unfinished one) and its counts per
site and kind, in rows a table can show."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import redis

from compliance import cleanup_runs as runs
from compliance.cleanup_markers import KINDS


@dataclass(frozen=True)
class CountRow:
    """One site's marks of each kind (planned by a dry run, or removed)."""

    site: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def workspace_run(client: redis.Redis, tenant_id: uuid.UUID, run_id: str) -> dict[str, Any] | None:
    """The run's progress view if it is one of the workspace's runs, else None."""
    try:
        run_id = str(uuid.UUID(run_id))
    except ValueError:
        return None
    view = runs.run_view(client, run_id)
    if view is None or view.pop("tenant") != str(tenant_id):
        return None
    return view


def current_run(client: redis.Redis, tenant_id: uuid.UUID) -> str | None:
    """The workspace's unfinished run, if any."""
    raw = client.get(runs.active_key(tenant_id))
    return raw.decode() if raw else None


def count_rows(counts: dict[str, dict[str, int]]) -> list[CountRow]:
    """Counts by site (sorted), every kind present."""
    return [
        CountRow(site, {kind: int(row.get(kind, 0)) for kind in KINDS})
        for site, row in sorted(counts.items())
    ]
