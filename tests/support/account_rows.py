"""Seed rows of the accounts tables (migration 0012) for the every-table tests."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from models.accounts import ACCOUNT_EMAIL, Account, AccountToken, Membership
from models.tenants import register_directory_key


def seed_account_rows(session: Session, tenant_id: uuid.UUID) -> uuid.UUID:
    """An account (in the directory), its membership, a Jira user's membership and a
    reset token, in the session's tenant; returns the account id."""
    key = secrets.token_hex(32)
    account = Account(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        email=f"seed-{key[:8]}@example.com",
        email_key=key,
        password_hash="$argon2id$v=19$m=8192,t=1,p=1$c2VlZHNlZWRzZWVk$" + "A" * 43,
    )
    session.add(account)
    session.flush()
    register_directory_key(session, ACCOUNT_EMAIL, key)
    session.add(Membership(tenant_id=tenant_id, account_id=account.id, role="owner"))
    session.add(
        Membership(
            tenant_id=tenant_id, atlassian_account_id=f"557058:{uuid.uuid4()}", role="viewer"
        )
    )
    session.add(
        AccountToken(
            tenant_id=tenant_id,
            purpose="password_reset",
            token_hash=hashlib.sha256(key.encode()).digest(),
            account_id=account.id,
            created_by="seed",
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
    )
    session.flush()
    return account.id
