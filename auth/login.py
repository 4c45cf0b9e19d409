"""Sign-in with lockout: one answer and comparable work for every refusal.

An unknown address, a wrong password, a wrong second factor and a locked account are all
``REFUSED``, and each runs the same steps: one directory look-up, one tenant transaction
that selects the account ``FOR UPDATE``, exactly one argon2 verification (against a dummy
hash when there is no account) and one UPDATE (matching no row when there is no account).
So neither the answer nor its timing tells them apart.

Ten consecutive failures lock the account for ``LOCKOUT_MINUTES``; while locked even the
right password is refused. The lock ends by time, by an admin (``unlock``) or by a
password reset; a success resets the count. The owner of the address is emailed when the
account locks, and the lock is audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from auth.accounts import LOCK_AFTER_FAILURES, AccountService
from auth.email_keys import InvalidEmail, loose_key, normalise_email
from auth.notices import lock_notice
from auth.totp import totp_secret, use_code
from models.accounts import ACCOUNT_EMAIL, Account
from models.audit import record_audit

OK, REFUSED, TOTP_REQUIRED = "ok", "refused", "totp_required"
_NOBODY = uuid.UUID(int=0)
_NO_FLUSH_WAIT = text("SET LOCAL synchronous_commit TO OFF")


@dataclass(frozen=True)
class LoginResult:
    outcome: str
    tenant_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None


@dataclass
class _Attempt:
    """What happened in the transaction, and what to do once it has committed."""

    result: LoginResult = field(default_factory=lambda: LoginResult(REFUSED))
    after_commit: list[Callable[[], object]] = field(default_factory=list)


def account_name_key(service: AccountService, raw_email: object) -> str:
    """The key of the typed name for the per-account rate limit (never the address)."""
    return loose_key(service.runtime.settings.secret_key, raw_email)


def authenticate(
    service: AccountService, raw_email: object, password: object, totp_code: object = None
) -> LoginResult:
    """Check a sign-in; ``OK`` with the account, ``TOTP_REQUIRED`` when the password was
    right and a second factor is needed, else ``REFUSED`` (whatever the reason)."""
    try:
        key = service.email_key(normalise_email(raw_email))
    except InvalidEmail:
        key = account_name_key(service, raw_email)  # same work as a real address
    typed = password if isinstance(password, str) else ""
    db = service.runtime.db
    tenant_id = db.directory_lookup(ACCOUNT_EMAIL, key)
    attempt = _Attempt()
    # An unknown address still opens a transaction (bound to a tenant that does not
    # exist, so it sees nothing) and does the same statements.
    with db.tenant_session(tenant_id or uuid.uuid4()) as session:
        account = session.execute(
            select(Account).where(Account.email_key == key).with_for_update()
        ).scalar_one_or_none()
        matches, needs_rehash = service.passwords.verify(
            account.password_hash if account else None, typed
        )
        if account is None:
            session.execute(
                update(Account)
                .where(Account.id == _NOBODY)
                .values(failed_logins=Account.failed_logins + 1)
            )
        else:
            _decide(service, session, account, matches, needs_rehash, typed, totp_code, attempt)
        if attempt.result.outcome == REFUSED and not attempt.after_commit:
            # A refusal that changed a row would otherwise wait for the WAL flush at commit
            # and one that changed nothing would not: that wait (1-10 ms) would tell an
            # unknown address from a known one. Losing a failure count in a crash is fine;
            # successes and new locks (audited) still commit synchronously.
            session.execute(_NO_FLUSH_WAIT)
    for action in attempt.after_commit:
        action()
    return attempt.result


def _decide(
    service: AccountService,
    session: Session,
    account: Account,
    matches: bool,
    needs_rehash: bool,
    password: str,
    totp_code: object,
    attempt: _Attempt,
) -> None:
    now = service.now()
    if account.locked_until is not None and account.locked_until <= now:
        account.failed_logins, account.locked_until = 0, None  # the lock ran out
    if service.is_locked(account) or not matches:
        _fail(service, session, account, attempt)
        return
    if account.totp_enabled:
        if not isinstance(totp_code, str) or not totp_code.strip():
            session.flush()
            attempt.result = LoginResult(TOTP_REQUIRED, account.tenant_id, account.id)
            return
        if not _totp_matches(service, session, account, totp_code):
            _fail(service, session, account, attempt)
            return
    account.failed_logins, account.locked_until, account.last_login_at = 0, None, now
    if needs_rehash:
        account.password_hash = service.passwords.hash(password)
    session.flush()
    record_audit(
        session,
        account.tenant_id,
        f"account:{account.id}",
        "account.signed_in",
        subject=str(account.id),
        rehashed=needs_rehash,
        second_factor=account.totp_enabled,
    )
    attempt.result = LoginResult(OK, account.tenant_id, account.id)


def _totp_matches(service: AccountService, session: Session, account: Account, code: str) -> bool:
    secret = totp_secret(service, session, account)
    return secret is not None and use_code(service, account, secret, code, service.now())


def _fail(service: AccountService, session: Session, account: Account, attempt: _Attempt) -> None:
    """Count a failure; the tenth consecutive one locks the account and tells its owner."""
    already_locked = service.is_locked(account)
    account.failed_logins += 1
    session.flush()
    if already_locked or account.failed_logins < LOCK_AFTER_FAILURES:
        return
    account.locked_until = service.now() + service.lock_period
    session.flush()
    record_audit(
        session,
        account.tenant_id,
        "system",
        "account.locked",
        subject=str(account.id),
        failures=account.failed_logins,
        locked_until=account.locked_until.isoformat(),
    )
    email, until = account.email, account.locked_until
    attempt.after_commit.append(lambda: lock_notice(service, email, until))


def unlock(
    service: AccountService, session: Session, account: Account, actor: str, reason: str
) -> bool:
    """End a lock (an admin, or a password reset) and reset the count; audited when the
    account was locked. True if it was."""
    was_locked = service.is_locked(account)
    account.failed_logins, account.locked_until = 0, None
    session.flush()
    if was_locked:
        record_audit(
            session,
            account.tenant_id,
            actor,
            "account.unlocked",
            subject=str(account.id),
            reason=reason,
        )
    return was_locked
