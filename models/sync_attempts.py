"""The audit of every sync attempt, each written in its own transaction so failures
are recorded too.

An attempt has a minimal part (who, what, when, outcome, calls), kept as long as the
link metadata, and a detailed part (``details`` and ``error``), which is a sync log: it
is written only while the workspace has sync logs on, and retention blanks it once the
workspace's sync-log window has passed (compliance/retention.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Identity,
    Index,
    Integer,
    String,
    Text,
    case,
    insert,
    literal,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at, one_of, tenant_fk
from models.db import Database
from models.tenants import Tenant

OUTCOMES = ("ok", "skipped", "failed", "retrying")


class SyncAttempt(Base):
    """One attempt to sync one issue (or one step of a backfill or drift run)."""

    __tablename__ = "sync_attempts"
    __table_args__ = (
        CheckConstraint(one_of("outcome", OUTCOMES), name="outcome"),
        Index(None, "tenant_id", "created_at"),
        Index(None, "tenant_id", "integration_id", "issue_key"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    integration_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    issue_key: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    api_calls: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    api_points: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = created_at()


def record_attempt(db: Database, tenant_id: uuid.UUID, **fields: Any) -> None:
    """Write one attempt row in a transaction of its own (never the caller's)."""
    if fields.get("outcome") not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    details = fields.pop("details", None) or {}
    error = fields.pop("error", None)
    # One statement: the tenant's switch is read inside the INSERT, no extra round trip.
    logs_on = select(Tenant.sync_logs_enabled).where(Tenant.id == tenant_id).scalar_subquery()
    statement = insert(SyncAttempt).values(
        tenant_id=tenant_id,
        details=case((logs_on, literal(details, JSONB)), else_=literal({}, JSONB)),
        error=case((logs_on, literal(error, Text)), else_=null()),
        **fields,
    )
    with db.tenant_session(tenant_id) as session:
        session.execute(statement)
