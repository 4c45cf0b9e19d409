"""Data keys (DEKs): one per installation, connection or tenant log, stored wrapped."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at, one_of, tenant_fk, uuid_pk

DATA_KEY_OWNERS = ("installation", "connection", "tenant_log", "forge_installation")


class DataKeyRecord(Base):
    """A DEK wrapped by a KEK. ``wrapped`` is NULL once the key is destroyed."""

    __tablename__ = "data_keys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        CheckConstraint(one_of("owner_kind", DATA_KEY_OWNERS), name="owner_kind"),
        CheckConstraint(
            "(wrapped IS NULL) = (kek_id IS NULL) "
            "AND (wrapped IS NULL) = (destroyed_at IS NOT NULL)",
            name="destroyed_consistent",
        ),
        Index(None, "tenant_id", "owner_kind", "owner_id"),
        Index(None, "kek_id"),
        # One live log key per tenant (migration 0011), so concurrent creators cannot
        # make two (keys/log_key.py).
        Index(
            "uq_data_keys_tenant_log",
            "tenant_id",
            unique=True,
            postgresql_where=text("owner_kind = 'tenant_log' AND destroyed_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    owner_kind: Mapped[str] = mapped_column(String(32), nullable=False)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    kek_id: Mapped[str | None] = mapped_column(Text)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_at()
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    destroyed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
