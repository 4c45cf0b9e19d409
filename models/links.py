"""Links between an issue (and its comments and attachments) and its mirror."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at, one_of, tenant_fk, tenant_scoped_fk, uuid_pk


class IssueLink(Base):
    """A source issue and its mirror, with the per-field hashes last synced."""

    __tablename__ = "issue_links"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("tenant_id", "integration_id", "source_issue_id"),
        UniqueConstraint("tenant_id", "integration_id", "target_issue_id"),
        CheckConstraint(one_of("state", ("active", "deleted", "unlinked")), name="state"),
        tenant_scoped_fk("integration_id", "integrations"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    integration_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    source_issue_id: Mapped[str] = mapped_column(Text, nullable=False)
    source_issue_key: Mapped[str] = mapped_column(Text, nullable=False)
    target_issue_id: Mapped[str] = mapped_column(Text, nullable=False)
    target_issue_key: Mapped[str] = mapped_column(Text, nullable=False)
    field_hashes: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()


class _ChildLink:
    """Columns a comment or attachment link shares."""

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    issue_link_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    origin: Mapped[str] = mapped_column(String(8), nullable=False)
    content_hash: Mapped[str | None] = mapped_column(Text)
    skipped_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()


def _child_table_args(kind: str) -> tuple:
    return (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("tenant_id", "issue_link_id", f"source_{kind}_id"),
        CheckConstraint(one_of("origin", ("source", "target")), name="origin"),
        tenant_scoped_fk("issue_link_id", "issue_links"),
    )


class CommentLink(_ChildLink, Base):
    """A comment and its mirrored copy (``origin`` says which side wrote it first)."""

    __tablename__ = "comment_links"
    __table_args__ = _child_table_args("comment")

    source_comment_id: Mapped[str] = mapped_column(Text, nullable=False)
    target_comment_id: Mapped[str | None] = mapped_column(Text)
    # Who wrote the original (its copy's attribution line names them); None for links
    # made before migration 0009 and once the account was closed and erased.
    author_account_id: Mapped[str | None] = mapped_column(Text)


class AttachmentLink(_ChildLink, Base):
    """An attachment and its copy, or why it was not copied."""

    __tablename__ = "attachment_links"
    __table_args__ = _child_table_args("attachment")

    source_attachment_id: Mapped[str] = mapped_column(Text, nullable=False)
    target_attachment_id: Mapped[str | None] = mapped_column(Text)
