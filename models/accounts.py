"""Dashboard accounts, memberships (roles) and single-use account tokens (migration 0012).

An account belongs to exactly one workspace; ``tenant_directory`` maps the keyed hash of
its normalised email (kind ``account_email``) to that workspace, so a login finds it
before the tenant is known. Memberships give a principal (a dashboard account, or a Jira
user by Atlassian account id) one role in the workspace.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at, one_of, tenant_fk, tenant_scoped_fk, updated_at, uuid_pk

ROLES = ("owner", "admin", "member", "viewer")  # highest first
TOKEN_PURPOSES = ("invitation", "password_reset")
ACCOUNT_EMAIL = "account_email"  # the tenant_directory kind


class Account(Base):
    """A person who signs in to the dashboard of one workspace."""

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("tenant_id", "email_key"),
        CheckConstraint("email_key ~ '^[0-9a-f]{64}$'", name="email_key_hex"),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
        CheckConstraint("NOT totp_enabled OR totp_secret IS NOT NULL", name="totp_secret"),
        tenant_scoped_fk("data_key_id", "data_keys"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    email: Mapped[str] = mapped_column(Text, nullable=False)
    email_key: Mapped[str] = mapped_column(String(64), nullable=False)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    data_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime] = created_at()
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    def __repr__(self) -> str:  # never print the address or the hash
        return f"Account(id={self.id}, tenant_id={self.tenant_id})"


class Membership(Base):
    """The role of one principal in the workspace: an account or a Jira user."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("tenant_id", "account_id"),
        UniqueConstraint("tenant_id", "atlassian_account_id"),
        CheckConstraint(one_of("role", ROLES), name="role"),
        CheckConstraint(
            "(account_id IS NULL) <> (atlassian_account_id IS NULL)", name="one_principal"
        ),
        tenant_scoped_fk("account_id", "accounts"),
        Index(None, "tenant_id", "role"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    account_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    atlassian_account_id: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    granted_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class AccountToken(Base):
    """An invitation or a password reset: only the SHA-256 of the token is stored."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("tenant_id", "token_hash"),
        CheckConstraint(one_of("purpose", TOKEN_PURPOSES), name="purpose"),
        CheckConstraint("octet_length(token_hash) = 32", name="token_hash_length"),
        CheckConstraint(
            "purpose <> 'invitation' OR (email IS NOT NULL AND role IS NOT NULL)",
            name="invitation_fields",
        ),
        CheckConstraint(
            "purpose <> 'password_reset' OR account_id IS NOT NULL", name="reset_account"
        ),
        CheckConstraint(f"role IS NULL OR {one_of('role', ROLES)}", name="role"),
        tenant_scoped_fk("account_id", "accounts"),
        Index(None, "tenant_id", "purpose", "expires_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    account_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    email: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
