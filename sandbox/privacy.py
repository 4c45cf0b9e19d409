"""Atlassian's personal-data reporting, in memory: which accounts were closed or changed
their profile and when, how reports are answered, and a log of the reports received.

An account is global to Atlassian, so closing or changing one acts on that account id on
every site. Closing anonymises it as Atlassian does (display name "Former user", no
email, inactive); the id stays on issues and comments. A reported account is `closed`
once closed, `updated` when its profile changed after the reported `updatedAt`, and
needs nothing otherwise (ids the sandbox does not know need nothing either).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.errors import JiraError
from sandbox.state import SandboxState
from sandbox.times import iso_now, utcnow

MAX_ACCOUNTS = 90
MAX_ACCOUNT_ID = 128
FORMER_USER = "Former user"


def parse_report(body: Any) -> list[tuple[str, datetime]]:
    """The (accountId, updatedAt) pairs of a report body; a 400 for anything else."""
    accounts = body.get("accounts") if isinstance(body, dict) else None
    if not isinstance(accounts, list) or not accounts:
        raise JiraError(400, "The request must have a non-empty 'accounts' list.")
    if len(accounts) > MAX_ACCOUNTS:
        raise JiraError(400, f"At most {MAX_ACCOUNTS} accounts may be reported per request.")
    parsed = []
    for index, entry in enumerate(accounts):
        account = entry.get("accountId") if isinstance(entry, dict) else None
        stamp = entry.get("updatedAt") if isinstance(entry, dict) else None
        if not isinstance(account, str) or not 0 < len(account) <= MAX_ACCOUNT_ID:
            raise JiraError(400, f"accounts[{index}].accountId must be an account id.")
        try:
            moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if not isinstance(stamp, str) or moment is None or moment.tzinfo is None:
            raise JiraError(
                400, f"accounts[{index}].updatedAt must be an ISO 8601 time with a zone."
            )
        parsed.append((account, moment))
    return parsed


@dataclass
class PrivacyDesk:
    """Account closures and profile changes, the answer settings, and the report log."""

    state: SandboxState
    cycle_period_days: int = 7
    rate_limit_next: int = 0  # the next n reports are answered 429
    retry_after_s: int = 1
    closed: dict[str, datetime] = field(default_factory=dict)
    changed: dict[str, datetime] = field(default_factory=dict)
    reports: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _users(self, account_id: str) -> list[Any]:
        """The account's user on every site (call with the state lock held)."""
        found = [s.users[account_id] for s in self.state.sites.values() if account_id in s.users]
        if not found:
            raise JiraError(404, f"No account {account_id} on any site.")
        return found

    def close(self, account_id: str) -> datetime:
        """Close the account everywhere and anonymise it; when it was closed."""
        with self.state.lock:
            for user in self._users(account_id):
                user.display_name, user.email, user.active = FORMER_USER, None, False
        with self._lock:
            return self.closed.setdefault(account_id, utcnow())

    def update(self, account_id: str, display_name: str | None, email: str | None) -> datetime:
        """Change the account's profile everywhere; when it changed."""
        with self.state.lock:
            for user in self._users(account_id):
                if display_name is not None:
                    user.display_name = display_name
                if email is not None:
                    user.email = email
        now = utcnow()
        with self._lock:
            self.changed[account_id] = now
        return now

    def throttled(self) -> int | None:
        """The Retry-After of a report answered 429 (using up one), or None."""
        with self._lock:
            if self.rate_limit_next <= 0:
                return None
            self.rate_limit_next -= 1
            return self.retry_after_s

    def answer(self, accounts: list[tuple[str, datetime]]) -> list[dict[str, str]]:
        """The accounts needing action, in the order reported, each once."""
        needed: dict[str, str] = {}
        with self._lock:
            for account, updated_at in accounts:
                if account in self.closed:
                    needed[account] = "closed"
                elif account in self.changed and self.changed[account] > updated_at:
                    needed.setdefault(account, "updated")
        return [{"accountId": account, "status": status} for account, status in needed.items()]

    def log(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.reports.append({"at": iso_now(), **entry})

    def settings(self) -> dict[str, Any]:
        with self._lock:
            return {
                "cycle_period_days": self.cycle_period_days,
                "rate_limit_next": self.rate_limit_next,
                "retry_after_s": self.retry_after_s,
            }

    def configure(self, values: Any) -> None:
        """Change the answer settings; a ValueError names a bad one."""
        if not isinstance(values, dict):
            raise ValueError("the body must be a JSON object")
        limits = {"cycle_period_days": 1, "rate_limit_next": 0, "retry_after_s": 1}
        unknown = set(values) - set(limits)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < limits[name]:
                raise ValueError(f"{name} must be a whole number of at least {limits[name]}")
        with self._lock:
            for name, value in values.items():
                setattr(self, name, value)

    def view(self) -> dict[str, Any]:
        """Settings, closures, changes and the report log, as the control plane shows."""
        settings = self.settings()
        with self._lock:
            return {
                **settings,
                "closed": {a: at.isoformat() for a, at in self.closed.items()},
                "updated": {a: at.isoformat() for a, at in self.changed.items()},
                "reports": [dict(r) for r in self.reports],
            }

    def clear_log(self) -> None:
        with self._lock:
            self.reports.clear()
