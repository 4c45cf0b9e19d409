"""Counts the Jira calls and estimated points one job spends."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from jira.raw_bodies import RawBodies


@dataclass
class CallMeter:
    """Requests actually sent (retries included), by call name, and their points."""

    calls: int = 0
    points: int = 0
    by_call: Counter[str] = field(default_factory=Counter)
    # The bodies of the reads worth keeping, when the tenant keeps raw responses.
    raw: RawBodies | None = None

    def count(self, name: str, points: int) -> None:
        self.calls += 1
        self.points += points
        self.by_call[name] += 1
