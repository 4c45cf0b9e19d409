"""Counts the Jira calls and estimated points one job spends."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class CallMeter:
    """Requests actually sent (retries included), by call name, and their points."""

    calls: int = 0
    points: int = 0
    by_call: Counter[str] = field(default_factory=Counter)

    def count(self, name: str, points: int) -> None:
        self.calls += 1
        self.points += points
        self.by_call[name] += 1
