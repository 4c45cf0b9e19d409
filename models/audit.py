"""The security and admin audit trail: append-only for the app role."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, created_at, tenant_fk


class AuditEvent(Base):
    """One security or admin event of a tenant."""

    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "tenant_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    occurred_at: Mapped[datetime] = created_at()
    actor: Mapped[str] = mapped_column(Text, nullable=False)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    subject: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)


def record_audit(
    session: Session,
    tenant_id: uuid.UUID,
    actor: str,
    action: str,
    subject: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Append an audit event in the caller's transaction (never log secrets in details)."""
    event = AuditEvent(
        tenant_id=tenant_id, actor=actor, action=action, subject=subject, details=details
    )
    session.add(event)
    return event
