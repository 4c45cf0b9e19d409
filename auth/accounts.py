"""The accounts service one app holds: settings, passwords, sessions, the clock.

Everything that reads or writes accounts takes this object, so a test can move time
(``service.clock``) and every path uses the same hasher and session store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.email_keys import email_key
from auth.passwords import Passwords
from auth.sessions import SessionStore
from models.accounts import Account, Membership
from runtime import Runtime

LOCK_AFTER_FAILURES = 10


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class AccountService:
    """Shared by the auth handlers, the role checks and the CLI of one app."""

    runtime: Runtime
    clock: Callable[[], datetime] = system_clock
    passwords: Passwords = field(init=False)
    sessions: SessionStore = field(init=False)

    def __post_init__(self) -> None:
        settings = self.runtime.settings
        self.passwords = Passwords(settings.password_hash_profile)
        self.sessions = SessionStore(
            self.runtime.redis,
            lambda: self.clock(),
            idle_seconds=settings.session_idle_minutes * 60,
            absolute_seconds=settings.session_absolute_hours * 3600,
        )

    def now(self) -> datetime:
        return self.clock()

    @property
    def lock_period(self) -> timedelta:
        return timedelta(minutes=self.runtime.settings.lockout_minutes)

    def email_key(self, email: str) -> str:
        return email_key(self.runtime.settings.secret_key, email)

    def is_locked(self, account: Account) -> bool:
        return account.locked_until is not None and account.locked_until > self.now()


def membership_of_account(session: Session, account_id: uuid.UUID) -> Membership | None:
    """The dashboard account's membership (its role) in the session's workspace."""
    return session.execute(
        select(Membership).where(Membership.account_id == account_id)
    ).scalar_one_or_none()


def membership_of_jira_user(session: Session, atlassian_account_id: str) -> Membership | None:
    """A Jira user's membership in the session's workspace, by Atlassian account id."""
    return session.execute(
        select(Membership).where(Membership.atlassian_account_id == atlassian_account_id)
    ).scalar_one_or_none()


def has_owner(session: Session) -> bool:
    """Whether the workspace has an owner (a dashboard account or a Jira user)."""
    found = session.execute(select(Membership.id).where(Membership.role == "owner").limit(1))
    return found.first() is not None
