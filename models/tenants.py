"""Tenants (workspaces) and the directory that finds one before it is known."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, created_at, one_of, tenant_fk, updated_at, uuid_pk

TENANT_STATUSES = ("active", "deletion_scheduled")
DIRECTORY_KINDS = ("connect_client_key", "forge_installation", "cloud_id")
# Platform maxima of the retention windows, in days (migration 0007 CHECKs the same).
RAW_RESPONSE_DAYS = (0, 30)
SYNC_LOG_DAYS = (1, 90)


class Tenant(Base):
    """One workspace, created by the first install on a Jira site."""

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(one_of("status", TENANT_STATUSES), name="status"),
        CheckConstraint("raw_response_days BETWEEN 0 AND 30", name="raw_response_days"),
        CheckConstraint("sync_log_days BETWEEN 1 AND 90", name="sync_log_days"),
        CheckConstraint("length(contact_email) <= 254", name="contact_email_length"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False, default="active")
    raw_response_days: Mapped[int] = mapped_column(Integer, nullable=False, server_default="30")
    sync_log_days: Mapped[int] = mapped_column(Integer, nullable=False, server_default="90")
    sync_logs_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=true())
    # Detailed sync logs sealed under the tenant's log key (migration 0011).
    seal_sync_logs: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    # Where workspace notices (deletion scheduled / cancelled / done) go (migration 0008).
    contact_email: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class DirectoryEntry(Base):
    """Maps a clientKey, Forge installation id or cloud id to a tenant. Holds no secrets."""

    __tablename__ = "tenant_directory"
    __table_args__ = (
        CheckConstraint(one_of("kind", DIRECTORY_KINDS), name="kind"),
        Index(None, "tenant_id", "kind"),
    )

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    created_at: Mapped[datetime] = created_at()


def create_tenant(session: Session, name: str) -> Tenant:
    """Insert the tenant row of the session's own tenant (its id is the session's tenant)."""
    tenant = Tenant(id=session.info["tenant_id"], name=name)
    session.add(tenant)
    session.flush()
    return tenant


def register_directory_key(session: Session, kind: str, key: str) -> DirectoryEntry:
    """Map a clientKey / Forge installation id / cloud id to the session's tenant."""
    entry = DirectoryEntry(kind=kind, key=key, tenant_id=session.info["tenant_id"])
    session.add(entry)
    session.flush()
    return entry
