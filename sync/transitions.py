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
        slim = [
            {"id": t["id"], "to": {"name": t["to"]["name"], "category": _category(t)}}
            for t in transitions
        ]
        self._redis.set(self._prefix + status, json.dumps(slim), ex=CACHE_SECONDS)
        learned = {t["to"]["name"]: c for t in slim if (c := t["to"]["category"])}
        if learned:
            self._redis.hset(self._prefix + "categories", mapping=learned)
            self._redis.expire(self._prefix + "categories", 24 * 3600)

    def initial(self) -> str | None:
        """The status a new issue of this project starts in, once seen."""
        raw = self._redis.get(self._prefix + "initial")
        return raw.decode() if raw else None

    def remember_initial(self, status: str) -> None:
        self._redis.set(self._prefix + "initial", status, ex=24 * 3600)

    def category(self, status: str) -> str | None:
        """The status category (new, indeterminate, done) of a status seen before."""
        raw = self._redis.hget(self._prefix + "categories", status)
        return raw.decode() if raw else None

    def forget(self, status: str) -> None:
        self._redis.delete(self._prefix + status)


RANK = {"new": 0, "indeterminate": 1, "done": 2}


def _category(transition: dict[str, Any]) -> str | None:
    to = transition.get("to") or {}
    return to.get("category") or (to.get("statusCategory") or {}).get("key")


def _preferred(
    options: list[dict[str, Any]], previous: str | None, target_category: str | None
) -> list[dict[str, Any]]:
    """Onward transitions, best first: not straight back to where we came from, and
    towards the target's status category (to do, in progress, done)."""
    goal = RANK.get(target_category or "")

    def cost(transition: dict[str, Any]) -> tuple[int, int]:
        rank = RANK.get(_category(transition) or "")
        distance = abs(rank - goal) if rank is not None and goal is not None else 1
        return (int(transition["to"]["name"] == previous), distance)

    return sorted(options, key=cost)


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
    category: str | None = None,
) -> int:
    """Transition ``issue_key`` from ``current`` (None: unknown) to ``status``, through
    intermediate statuses when there is no direct transition, towards the status's
    category (as this project's transitions showed it, else ``category``: what the
    status is on the other side); returns how many transitions were made."""
    now, visited, steps, retried, previous = current, {current}, 0, False, None
    tried: set[tuple[str | None, str]] = set()
    known = cache.category(status) if cache is not None else None
    target_category = known or category
    while steps < MAX_STEPS:
        if now == status:
            return steps
        transitions, cached = _available(client, issue_key, now, cache)
        direct = [t for t in transitions if t["to"]["name"] == status]
        if cache is not None and known is None:
            known = cache.category(status)
            target_category = known or category
        untried = [t for t in transitions if (now, t["to"]["name"]) not in tried]
        fresh = [t for t in untried if t["to"]["name"] not in visited]
        # New statuses first; when none is left, step back along an untried way.
        onward = direct or _preferred(fresh or untried, previous, target_category)
        if not onward:
            break
        chosen = onward[0]
        tried.add((now, chosen["to"]["name"]))
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
            visited, tried = {now}, set()
            continue
        steps += 1
        previous, now = now, chosen["to"]["name"]
        visited.add(now)
    raise PermanentError(f"no workflow path from '{current}' to status '{status}' on {issue_key}")


def status_of_new_issue(client: JiraClient, issue_key: str, cache: TransitionCache) -> str | None:
    """Where a just-created issue stands: known per project after the first look."""
    known = cache.initial()
    if known is None:
        known = _current(client, issue_key)
        if known:
            cache.remember_initial(known)
    return known
