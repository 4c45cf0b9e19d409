"""Per-app REST call counters, estimated points, and Retry-After compliance.

Points follow Atlassian's 2026 points-based model as documented: every request costs a base
of 1 point; a read (GET) adds 1 point per object it returns (issues of a search page,
comments, users, transitions, webhooks, ...; 1 for a single object); writes cost only the
base. Calls the sandbox failed on purpose (injected 429/5xx/timeouts) cost nothing.

When the sandbox answers an app 429 or 503 with `Retry-After`, any request from that app
before that moment is a violation, recorded with the time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

LIST_KEYS = ("issues", "values", "comments", "transitions", "keys")


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def points(method: str, status: int, body: Any, injected: bool = False) -> int:
    """The estimated cost of one answered call."""
    if injected:
        return 0
    if method != "GET" or not 200 <= status < 300:
        return 1
    if isinstance(body, list):
        return 1 + len(body)
    if isinstance(body, dict):
        for key in LIST_KEYS:
            if isinstance(body.get(key), list):
                return 1 + len(body[key])
    return 2


@dataclass
class AppCounters:
    """One app's numbers."""

    calls: int = 0
    points: int = 0
    by_endpoint: dict[str, dict[str, Any]] = field(default_factory=dict)
    violations: list[dict[str, Any]] = field(default_factory=list)
    retry_until: float = 0.0

    def public(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "points": self.points,
            "by_endpoint": {
                name: {**row, "statuses": dict(row["statuses"])}
                for name, row in self.by_endpoint.items()
            },
            "violations": [dict(v) for v in self.violations],
            "last_429_until": _iso(self.retry_until) if self.retry_until else None,
        }


class Counters:
    """Counters for every app, behind their own lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._apps: dict[str, AppCounters] = {}

    def begin(self, app: str, endpoint: str) -> dict[str, Any] | None:
        """Count a call; returns the violation if it came before a Retry-After ran out."""
        now = time.time()
        with self._lock:
            counters = self._apps.setdefault(app, AppCounters())
            counters.calls += 1
            row = counters.by_endpoint.setdefault(
                endpoint, {"calls": 0, "points": 0, "statuses": {}}
            )
            row["calls"] += 1
            if now >= counters.retry_until:
                return None
            violation = {
                "at": _iso(now),
                "endpoint": endpoint,
                "retry_after_until": _iso(counters.retry_until),
                "early_by_s": round(counters.retry_until - now, 3),
            }
            counters.violations.append(violation)
            return violation

    def remaining_wait(self, app: str) -> float:
        """Seconds until the app may call again (0 when it may)."""
        with self._lock:
            counters = self._apps.get(app)
            return max(0.0, counters.retry_until - time.time()) if counters else 0.0

    def finish(
        self, app: str, endpoint: str, status: int, cost: int, retry_after: float | None
    ) -> None:
        """Record the answer: its status, its points, and any Retry-After it carried."""
        with self._lock:
            counters = self._apps.setdefault(app, AppCounters())
            counters.points += cost
            row = counters.by_endpoint.setdefault(
                endpoint, {"calls": 0, "points": 0, "statuses": {}}
            )
            row["points"] += cost
            row["statuses"][str(status)] = row["statuses"].get(str(status), 0) + 1
            if status in (429, 503) and retry_after:
                counters.retry_until = max(counters.retry_until, time.time() + retry_after)

    def snapshot(self, app: str | None = None) -> dict[str, Any]:
        """One app's counters, or the totals with every app under `apps`."""
        with self._lock:
            if app is not None:
                return self._apps.get(app, AppCounters()).public()
            apps = {name: c.public() for name, c in self._apps.items()}
            until = max((c.retry_until for c in self._apps.values()), default=0.0)
        merged: dict[str, dict[str, Any]] = {}
        for one in apps.values():
            for name, row in one["by_endpoint"].items():
                total = merged.setdefault(name, {"calls": 0, "points": 0, "statuses": {}})
                total["calls"] += row["calls"]
                total["points"] += row["points"]
                for status, count in row["statuses"].items():
                    total["statuses"][status] = total["statuses"].get(status, 0) + count
        return {
            "calls": sum(a["calls"] for a in apps.values()),
            "points": sum(a["points"] for a in apps.values()),
            "by_endpoint": merged,
            "violations": [{"app": name, **v} for name, a in apps.items() for v in a["violations"]],
            "last_429_until": _iso(until) if until else None,
            "apps": apps,
        }

    def reset(self) -> None:
        with self._lock:
            self._apps.clear()
