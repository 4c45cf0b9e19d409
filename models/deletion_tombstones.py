"""Tombstones: the only, non-personal record of a hard-deleted workspace."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, uuid_pk


class DeletionTombstone(Base):
    """A deleted tenant: its hashed id, when deletion was requested and done, row counts.

    Deliberately no ``tenant_id``: nothing here points back at the workspace.
    """

    __tablename__ = "deletion_tombstones"
    __table_args__ = (CheckConstraint("tenant_hash ~ '^[0-9a-f]{64}$'", name="tenant_hash_hex"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    row_counts: Mapped[dict[str, int]] = mapped_column(JSONB, nullable=False, default=dict)
