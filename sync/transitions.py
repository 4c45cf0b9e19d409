"""Moving an issue to a status through the workflow, one transition at a time.

The transitions available from a status are cached per site and project for a few
minutes, so a status change usually costs only the transitions themselves; a refused
transition (the workflow changed, or the issue was not where we thought) drops the
cache entry and the move is tried again from what Jira says now."""

from __future__ import annotations

import json
from typing import Any

import redis

from jira.client import JiraClient
from jira.errors import PermanentError

MAX_STEPS = 8
CACHE_SECONDS = 600
REFUSED = (400, 404, 409)


class TransitionCache:
    """Transitions out of each status of one project's workflow."""

    def __init__(self, client: redis.Redis, site: str, project: str) -> None:
        self._redis = client
        self._prefix = f"tandem:transitions:{site}:{project}:"

    def get(self, status: str) -> list[dict[str, Any]] | None:
        raw = self._redis.get(self._prefix + status)
        return json.loads(raw) if raw else None

    def put(self, status: str, transitions: list[dict[str, Any]]) -> None:
        slim = [{"id": t["id"], "to": {"name": t["to"]["name"]}} for t in transitions]
        self._redis.set(self._prefix + status, json.dumps(slim), ex=CACHE_SECONDS)

    def forget(self, status: str) -> None:
        self._redis.delete(self._prefix + status)


def _available(
    client: JiraClient, issue_key: str, now: str | None, cache: TransitionCache | None
) -> tuple[list[dict[str, Any]], bool]:
    if cache is not None and now is not None:
        cached = cache.get(now)
        if cached is not None:
            return cached, True
    transitions = client.call("get_transitions", path_params={"key": issue_key}).json()[
        "transitions"
    ]
    if cache is not None and now is not None:
        cache.put(now, transitions)
    return transitions, False


def _current(client: JiraClient, issue_key: str) -> str | None:
    issue = client.call(
        "get_issue", path_params={"key": issue_key}, params={"fields": "status"}
    ).json()
    return (issue["fields"].get("status") or {}).get("name")


def move_to_status(
    client: JiraClient,
    issue_key: str,
    status: str,
    current: str | None,
    cache: TransitionCache | None = None,
) -> int:
    """Transition ``issue_key`` from ``current`` (None: unknown) to ``status``, through
    intermediate statuses when there is no direct transition; returns how many
    transitions were made."""
    now, visited, steps, retried = current, {current}, 0, False
    while steps < MAX_STEPS:
        if now == status:
            return steps
        transitions, cached = _available(client, issue_key, now, cache)
        direct = [t for t in transitions if t["to"]["name"] == status]
        onward = direct or [t for t in transitions if t["to"]["name"] not in visited]
        if not onward:
            break
        chosen = onward[0]
        try:
            client.call(
                "transition",
                path_params={"key": issue_key},
                json={"transition": {"id": chosen["id"]}},
            )
        except PermanentError as error:
            if error.status not in REFUSED or retried or not (cached or current):
                raise
            retried = True  # our picture was stale: ask Jira where the issue is now
            if cache is not None and now is not None:
                cache.forget(now)
            now = _current(client, issue_key)
            visited = {now}
            continue
        steps += 1
        now = chosen["to"]["name"]
        visited.add(now)
    raise PermanentError(f"no workflow path from '{current}' to status '{status}' on {issue_key}")
