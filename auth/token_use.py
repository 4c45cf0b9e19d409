"""Issue and redeem single-use, expiring account tokens (invitations, password resets)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.account_tokens import BadToken, ParsedToken, new_token
from auth.accounts import AccountService
from models.accounts import AccountToken

INVITATION_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=1)


class TokenRefused(ValueError):
    """Used, expired or unknown; the message is safe to show (it names no account)."""


def issue(
    service: AccountService,
    session: Session,
    purpose: str,
    lifetime: timedelta,
    created_by: str,
    **fields: object,
) -> tuple[str, AccountToken]:
    """Store a new token's digest; returns (the token to email, its row)."""
    tenant_id = session.info["tenant_id"]
    token, digest = new_token(tenant_id)
    row = AccountToken(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        purpose=purpose,
        token_hash=digest,
        created_by=created_by,
        expires_at=service.now() + lifetime,
        **fields,
    )
    session.add(row)
    session.flush()
    return token, row


def redeem(
    service: AccountService, session: Session, parsed: ParsedToken, purpose: str
) -> AccountToken:
    """Mark the token used (in the caller's transaction, row locked) and return it;
    TokenRefused when it is unknown, used or expired."""
    row = session.execute(
        select(AccountToken)
        .where(AccountToken.token_hash == parsed.digest, AccountToken.purpose == purpose)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise TokenRefused("this link is not valid: ask for a new one")
    if row.used_at is not None:
        raise TokenRefused("this link was already used: ask for a new one")
    if row.expires_at <= service.now():
        raise TokenRefused("this link has expired: ask for a new one")
    row.used_at = service.now()
    session.flush()
    return row


__all__ = ["BadToken", "TokenRefused", "issue", "redeem"]
