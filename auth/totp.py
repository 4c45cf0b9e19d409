"""Optional second factor: TOTP (RFC 6238, 6 digits, 30 s, one step of drift allowed).

The secret is sealed under the account's own data key (``data_keys`` owner ``account``),
bound to (tenant, ``accounts``, account id, ``totp_secret``). Enrolment stores the secret
without enabling it; the first correct code enables it, so a mistyped set-up never locks
anyone out.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime

import pyotp
from sqlalchemy.orm import Session

from auth.accounts import AccountService
from keys.envelope import SealContext
from models.accounts import Account
from models.audit import record_audit

ISSUER = "Tandem"


class TotpError(ValueError):
    """The code is wrong, or no enrolment is pending; the message says which."""


USED_CODE_SECONDS = 120  # longer than the 90 s in which a code is accepted


def matching_step(secret: str, code: object, now: datetime) -> int | None:
    """The time step whose code ``code`` is (the current one, or the one before or
    after it), or None."""
    if not isinstance(code, str) or not code.strip().isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code.strip()):
            return step
    return None


def use_code(
    service: AccountService, account: Account, secret: str, code: object, now: datetime
) -> bool:
    """Whether ``code`` is valid now and not used before: each time step's code of an
    account is accepted once (claimed in Redis), so a code seen over a shoulder or in a
    proxy log cannot be replayed within its window."""
    step = matching_step(secret, code, now)
    if step is None:
        return False
    key = f"tandem:totp-used:{account.id}:{step}"
    return bool(service.runtime.redis.set(key, 1, nx=True, ex=USED_CODE_SECONDS))


def _context(account: Account) -> SealContext:
    return SealContext(account.tenant_id, "accounts", str(account.id), "totp_secret")


def totp_secret(service: AccountService, session: Session, account: Account) -> str | None:
    """The opened secret, or None when the account has none."""
    if account.totp_secret is None:
        return None
    keys = service.runtime.keys
    return keys.open(session, account.totp_secret, _context(account)).decode()


def begin_enrolment(service: AccountService, session: Session, account: Account) -> str:
    """A new secret, sealed and stored but not yet enabled; returns the otpauth:// URI
    for an authenticator app."""
    if account.totp_enabled:
        raise TotpError("a second factor is already enabled; disable it first")
    keys = service.runtime.keys
    if account.data_key_id is None:
        account.data_key_id = keys.create(session, account.tenant_id, "account", account.id).key_id
    secret = pyotp.random_base32()
    account.totp_secret = keys.seal(session, account.data_key_id, _context(account), secret)
    session.flush()
    return pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name=ISSUER)


def confirm_enrolment(
    service: AccountService, session: Session, account: Account, code: object
) -> None:
    """Enable the pending secret once a correct code proves the app has it."""
    secret = totp_secret(service, session, account)
    if secret is None or account.totp_enabled:
        raise TotpError("no second-factor set-up is pending")
    if not use_code(service, account, secret, code, service.now()):
        raise TotpError("that code is not the current one: check the authenticator app's clock")
    account.totp_enabled = True
    session.flush()
    record_audit(
        session,
        account.tenant_id,
        f"account:{account.id}",
        "account.totp_enabled",
        subject=str(account.id),
    )


def disable(service: AccountService, session: Session, account: Account, code: object) -> None:
    """Turn the second factor off (a current code is required) and forget the secret."""
    secret = totp_secret(service, session, account)
    if secret is None or not account.totp_enabled:
        raise TotpError("no second factor is enabled")
    if not use_code(service, account, secret, code, service.now()):
        raise TotpError("that code is not the current one, or it was used already")
    account.totp_enabled, account.totp_secret = False, None
    session.flush()
    record_audit(
        session,
        account.tenant_id,
        f"account:{account.id}",
        "account.totp_disabled",
        subject=str(account.id),
    )


def second_factor_action(
    service: AccountService, tenant_id: uuid.UUID, account_id: uuid.UUID, action: str, code: object
) -> str | None:
    """Run ``setup`` (returns the otpauth:// URI), ``enable`` or ``disable`` on the
    signed-in account, in its own transaction; TotpError when refused."""
    with service.runtime.db.tenant_session(tenant_id) as session:
        account = session.get(Account, account_id, with_for_update=True)
        if account is None:
            raise TotpError("the account is gone")
        if action == "setup":
            return begin_enrolment(service, session, account)
        if action == "enable":
            confirm_enrolment(service, session, account, code)
        elif action == "disable":
            disable(service, session, account, code)
        else:
            raise ValueError(f"unknown second-factor action {action!r}")
    return None
