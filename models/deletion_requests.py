"""Requests to delete a workspace, honoured after a grace period (completed by the
compliance issue's sweeper)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text, UniqueConstraint, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, one_of, tenant_fk, uuid_pk
from models.tenants import Tenant

DELETION_STATUSES = ("scheduled", "cancelled", "done")
GRACE_PERIOD = timedelta(days=7)
# session.info key: the changes made in this transaction that the workspace must hear
# about, as plain data; compliance/deletion_notices.py mails them once it commits.
PENDING_NOTICES = "tandem.deletion_notices"


@dataclass(frozen=True)
class DeletionChange:
    """A scheduled deletion was created or cancelled in the session's transaction."""

    change: str  # "scheduled" | "cancelled"
    delete_after: datetime
    reason: str


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


def scheduled_deletion(session: Session) -> DeletionRequest | None:
    """The session tenant's pending (scheduled) deletion request, if any."""
    return (
        session.query(DeletionRequest)
        .filter_by(tenant_id=session.info["tenant_id"], status="scheduled")
        .one_or_none()
    )


def schedule_deletion(session: Session, reason: str) -> DeletionRequest:
    """Schedule the session tenant's deletion after the grace period (once); the
    workspace is marked ``deletion_scheduled`` until it is cancelled or deleted."""
    existing = scheduled_deletion(session)
    if existing is not None:
        return existing
    request = DeletionRequest(
        tenant_id=session.info["tenant_id"],
        reason=reason,
        delete_after=datetime.now(UTC) + GRACE_PERIOD,
    )
    session.add(request)
    _set_tenant_status(session, "deletion_scheduled")
    session.flush()
    _note(session, DeletionChange("scheduled", request.delete_after, reason))
    return request


def cancel_deletion(session: Session) -> bool:
    """Cancel a scheduled deletion of the session tenant; True if one was cancelled."""
    cancelled = session.execute(
        update(DeletionRequest)
        .where(
            DeletionRequest.tenant_id == session.info["tenant_id"],
            DeletionRequest.status == "scheduled",
        )
        .values(status="cancelled", cancelled_at=datetime.now(UTC))
        .returning(DeletionRequest.delete_after, DeletionRequest.reason)
    ).all()
    if cancelled:
        _set_tenant_status(session, "active")
        delete_after, reason = cancelled[0]
        _note(session, DeletionChange("cancelled", delete_after, reason))
    return bool(cancelled)


def _note(session: Session, change: DeletionChange) -> None:
    session.info.setdefault(PENDING_NOTICES, []).append(change)


def _set_tenant_status(session: Session, status: str) -> None:
    session.query(Tenant).filter_by(id=session.info["tenant_id"]).update({"status": status})
