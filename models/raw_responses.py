"""Raw Jira responses kept sealed for diagnosis (retention purges them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Identity, Index, LargeBinary, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at, tenant_fk, tenant_scoped_fk


class RawResponse(Base):
    """A Jira response body, sealed under the tenant's log key."""

    __tablename__ = "raw_responses"
    __table_args__ = (
        tenant_scoped_fk("data_key_id", "data_keys"),
        Index(None, "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    data_key_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = created_at()
