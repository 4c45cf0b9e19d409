"""The webhook inbox: each accepted delivery, durable before it is acknowledged."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, one_of, tenant_fk, tenant_scoped_fk, uuid_pk

EVENT_STATUSES = ("pending", "processed", "skipped", "failed")


class WebhookEvent(Base):
    """One delivery, keyed by (tenant, X-Atlassian-Webhook-Identifier), from an installation
    (Connect webhooks) or from a connection (dynamic webhooks): exactly one of the two."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("tenant_id", "identifier"),
        CheckConstraint(one_of("status", EVENT_STATUSES), name="status"),
        CheckConstraint("(installation_id IS NULL) <> (connection_id IS NULL)", name="one_sender"),
        tenant_scoped_fk("installation_id", "installations"),
        tenant_scoped_fk("connection_id", "connections"),
        Index(None, "tenant_id", "received_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    installation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    connection_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    identifier: Mapped[str] = mapped_column(Text, nullable=False)
    event: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    job_runs: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
