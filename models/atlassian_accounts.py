"""The Atlassian accounts Tandem holds personal data of, per end it saw them through, and
when its copies were last brought up to date (the weekly personal-data report sends
these; compliance/personal_data.py).

The engine notes an account where it stores something about it (a webhook payload, a
comment copy's attribution line, a people mapping). Noting is one ``INSERT ... ON
CONFLICT DO NOTHING`` in the caller's transaction: a sighting never moves
``refreshed_at``, only a report run that refreshed every copy does, so the time sent to
Atlassian is never later than the oldest copy Tandem may still hold.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import CheckConstraint, Computed, DateTime, Index, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, created_at, tenant_fk, tenant_scoped_fk, uuid_pk

MAX_ACCOUNT_ID = 128
END_COLUMNS = {"installation": "installation_id", "connection": "connection_id"}

_NOTE = (
    "INSERT INTO atlassian_accounts (tenant_id, account_id, {column}) "
    "SELECT CAST(:tenant AS uuid), a.id, CAST(:end AS uuid) "
    "FROM unnest(CAST(:ids AS text[])) AS a (id) "
    "ON CONFLICT (tenant_id, end_id, account_id) DO NOTHING"
)
# The end a comment's author was seen through: the integration's end on the comment's side.
_NOTE_AUTHORS = (
    "INSERT INTO atlassian_accounts (tenant_id, account_id, installation_id, connection_id) "
    "SELECT l.tenant_id, a.id, i.{side}_installation_id, i.{side}_connection_id "
    "FROM issue_links l JOIN integrations i ON i.id = l.integration_id "
    "AND i.tenant_id = l.tenant_id, unnest(CAST(:ids AS text[])) AS a (id) "
    "WHERE l.id = :link ON CONFLICT (tenant_id, end_id, account_id) DO NOTHING"
)

# Jira users given a role in the workspace (models/accounts.py) are seen through the
# workspace's first installation: the site whose admin pages granted the role.
_NOTE_MEMBERS = (
    "INSERT INTO atlassian_accounts (tenant_id, account_id, installation_id) "
    "SELECT m.tenant_id, m.atlassian_account_id, i.id FROM memberships m, "
    "(SELECT id FROM installations ORDER BY created_at, id LIMIT 1) AS i "
    "WHERE m.atlassian_account_id IS NOT NULL "
    "ON CONFLICT (tenant_id, end_id, account_id) DO NOTHING"
)


class AtlassianAccount(Base):
    """One account seen through one end (an installation or a connection)."""

    __tablename__ = "atlassian_accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("tenant_id", "end_id", "account_id"),
        CheckConstraint("(installation_id IS NULL) <> (connection_id IS NULL)", name="one_end"),
        CheckConstraint("length(account_id) BETWEEN 1 AND 128", name="account_id_length"),
        tenant_scoped_fk("installation_id", "installations"),
        tenant_scoped_fk("connection_id", "connections"),
        Index(None, "tenant_id", "account_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    account_id: Mapped[str] = mapped_column(Text, nullable=False)
    installation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    connection_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    end_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), Computed("coalesce(installation_id, connection_id)", persisted=True)
    )
    first_seen_at: Mapped[datetime] = created_at()
    refreshed_at: Mapped[datetime] = created_at()
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def valid_account_ids(candidates: Iterable[object]) -> list[str]:
    """The candidates that can be account ids (non-empty strings of at most 128
    characters), each once, in order."""
    return list(
        dict.fromkeys(c for c in candidates if isinstance(c, str) and 0 < len(c) <= MAX_ACCOUNT_ID)
    )


def note_accounts(
    session: Session, kind: str, end_id: uuid.UUID, account_ids: Iterable[object]
) -> None:
    """Note accounts seen through one end (``kind`` "installation" or "connection") in
    the caller's transaction; accounts already noted there are left as they are."""
    ids = valid_account_ids(account_ids)
    if not ids:
        return
    session.execute(
        text(_NOTE.format(column=END_COLUMNS[kind])),
        {"tenant": str(session.info["tenant_id"]), "end": str(end_id), "ids": ids},
    )


def note_comment_authors(
    session: Session, issue_link_id: uuid.UUID, side: str, account_ids: Iterable[object]
) -> None:
    """Note the authors of comments on one ``side`` ("source" or "target") of a link,
    seen through that side's end of the link's integration."""
    if side not in ("source", "target"):
        raise ValueError("side must be source or target")
    ids = valid_account_ids(account_ids)
    if ids:
        session.execute(
            text(_NOTE_AUTHORS.format(side=side)), {"link": str(issue_link_id), "ids": ids}
        )


def note_members(session: Session) -> None:
    """Note the Jira users holding a role in the session's workspace."""
    session.execute(text(_NOTE_MEMBERS))
