"""Password resets by an emailed, single-use link valid for one hour.

Asking never says whether the address has an account (the answer is always "if it has
one, a link is on its way"), and the request does the same work for any address: it
queues one job with the address's directory key (auth/reset_jobs.py), and the worker
looks the account up and emails the link. Completing a
reset sets the new password, ends the lock and the failure count, and destroys every
session of the account.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auth.account_tokens import parse_token
from auth.accounts import AccountService
from auth.email_keys import normalise_email
from auth.login import unlock
from auth.notices import reset_link
from auth.passwords import check_new_password
from auth.reset_jobs import queue_reset_link
from auth.token_use import RESET_LIFETIME, TokenRefused, issue, redeem
from models.accounts import ACCOUNT_EMAIL, Account, AccountToken
from models.audit import record_audit


def request_reset(service: AccountService, raw_email: object) -> None:
    """Queue a reset link for the address (the worker emails it only when the address has
    an account): the same work either way. InvalidEmail when it is not an address at all
    (a syntax check, which tells nothing about accounts)."""
    email = normalise_email(raw_email)
    queue_reset_link(service.runtime, service.email_key(email))


def send_reset_link(service: AccountService, email_key: str) -> bool:
    """Issue a reset token for the account with this directory key and email its link;
    False when there is no such account."""
    db = service.runtime.db
    tenant_id = db.directory_lookup(ACCOUNT_EMAIL, email_key)
    if tenant_id is None:
        return False
    with db.tenant_session(tenant_id) as session:
        account = session.execute(
            select(Account).where(Account.email_key == email_key)
        ).scalar_one_or_none()
        if account is None:
            return False
        token, _ = issue(
            service, session, "password_reset", RESET_LIFETIME, "self", account_id=account.id
        )
        record_audit(
            session,
            account.tenant_id,
            f"account:{account.id}",
            "account.reset_requested",
            subject=str(account.id),
        )
        email = account.email
    return reset_link(service, email, token, int(RESET_LIFETIME.total_seconds() // 3600))


def complete_reset(service: AccountService, raw_token: object, password: object) -> uuid.UUID:
    """Set the new password from a reset link; returns the account id. Unlocks the
    account and ends all of its sessions."""
    parsed = parse_token(raw_token)
    with service.runtime.db.tenant_session(parsed.tenant_id) as session:
        row = redeem(service, session, parsed, "password_reset")
        account = session.get(Account, row.account_id, with_for_update=True)
        if account is None:
            raise TokenRefused("this link is not valid: ask for a new one")
        check_new_password(password, account.email)
        set_password(service, account, str(password))
        _retire_other_resets(session, account.id, service.now())
        actor = f"account:{account.id}"
        unlock(service, session, account, actor, reason="password reset")
        record_audit(
            session, account.tenant_id, actor, "account.password_reset", subject=str(account.id)
        )
        account_id = account.id
    service.sessions.end_all(account_id)
    return account_id


def _retire_other_resets(session: Session, account_id: uuid.UUID, now: datetime) -> None:
    """A completed reset makes every other open reset link of the account useless."""
    session.execute(
        update(AccountToken)
        .where(
            AccountToken.account_id == account_id,
            AccountToken.purpose == "password_reset",
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )


def set_password(service: AccountService, account: Account, password: str) -> None:
    """Store a new hash (the caller has checked the password and ends the sessions)."""
    account.password_hash = service.passwords.hash(password)
    account.password_changed_at = service.now()


class WrongPassword(ValueError):
    """The current password given for a change is wrong."""


def change_password(
    service: AccountService,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    current: object,
    new: object,
    actor: str,
) -> None:
    """Replace a signed-in account's password (the current one is required; one argon2
    verification either way); the caller then ends the account's sessions."""
    with service.runtime.db.tenant_session(tenant_id) as session:
        account = session.get(Account, account_id, with_for_update=True)
        matches, _ = service.passwords.verify(
            account.password_hash if account else None, current if isinstance(current, str) else ""
        )
        if account is None or not matches:
            raise WrongPassword("the current password is wrong")
        set_password(service, account, check_new_password(new, account.email))
        record_audit(session, tenant_id, actor, "account.password_changed", subject=str(account.id))
