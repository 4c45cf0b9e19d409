"""Integrations: a sync rule from a source project to a target project."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at, tenant_fk, tenant_scoped_fk, updated_at, uuid_pk


class Integration(Base):
    """Which project mirrors to which, how (``config``), and where backfill/drift stand."""

    __tablename__ = "integrations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        CheckConstraint(
            "(source_installation_id IS NULL) <> (source_connection_id IS NULL)", name="one_source"
        ),
        CheckConstraint(
            "(target_installation_id IS NULL) <> (target_connection_id IS NULL)", name="one_target"
        ),
        tenant_scoped_fk("source_installation_id", "installations"),
        tenant_scoped_fk("source_connection_id", "connections"),
        tenant_scoped_fk("target_installation_id", "installations"),
        tenant_scoped_fk("target_connection_id", "connections"),
        Index(None, "tenant_id", "enabled"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    name: Mapped[str] = mapped_column(Text, nullable=False)
    source_installation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    source_connection_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    source_project: Mapped[str] = mapped_column(Text, nullable=False)
    target_installation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    target_connection_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    target_project: Mapped[str] = mapped_column(Text, nullable=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    backfill_state: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    drift_watermark: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
