"""Requests to delete a workspace, honoured after a grace period (completed by the
compliance issue's sweeper)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, one_of, tenant_fk, uuid_pk
from models.tenants import Tenant

DELETION_STATUSES = ("scheduled", "cancelled", "done")
GRACE_PERIOD = timedelta(days=7)


class DeletionRequest(Base):
    """A scheduled deletion of the whole workspace."""

    __tablename__ = "deletion_requests"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        CheckConstraint(one_of("status", DELETION_STATUSES), name="status"),
        Index(None, "tenant_id", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="scheduled")
    requested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=lambda: datetime.now(UTC)
    )
    delete_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def schedule_deletion(session: Session, reason: str) -> DeletionRequest:
    """Schedule the session tenant's deletion after the grace period (once); the
    workspace is marked ``deletion_scheduled`` until it is cancelled or deleted."""
    tenant_id = session.info["tenant_id"]
    existing = (
        session.query(DeletionRequest)
        .filter_by(tenant_id=tenant_id, status="scheduled")
        .one_or_none()
    )
    if existing is not None:
        return existing
    request = DeletionRequest(
        tenant_id=tenant_id, reason=reason, delete_after=datetime.now(UTC) + GRACE_PERIOD
    )
    session.add(request)
    _set_tenant_status(session, "deletion_scheduled")
    session.flush()
    return request


def cancel_deletion(session: Session) -> bool:
    """Cancel a scheduled deletion of the session tenant; True if one was cancelled."""
    cancelled = (
        session.query(DeletionRequest)
        .filter_by(tenant_id=session.info["tenant_id"], status="scheduled")
        .update({"status": "cancelled", "cancelled_at": datetime.now(UTC)})
    )
    if cancelled:
        _set_tenant_status(session, "active")
    return bool(cancelled)


def _set_tenant_status(session: Session, status: str) -> None:
    session.query(Tenant).filter_by(id=session.info["tenant_id"]).update({"status": status})
