"""Connections: remote Jira sites reached through OAuth 2.0 (3LO)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, DateTime, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, Session, mapped_column

from keys.envelope import SealContext
from models.base import Base, created_at, one_of, tenant_fk, tenant_scoped_fk, updated_at, uuid_pk

if TYPE_CHECKING:
    from keys.data_keys import KeyService

CONNECTION_STATUSES = ("active", "paused", "revoked", "disconnected")


class Connection(Base):
    """An OAuth grant to a remote site; both tokens are sealed under the connection's DEK."""

    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("tenant_id", "cloud_id"),
        CheckConstraint(one_of("status", CONNECTION_STATUSES), name="status"),
        tenant_scoped_fk("data_key_id", "data_keys"),
        tenant_scoped_fk("installation_id", "installations"),
        Index(None, "tenant_id", "status"),
        Index(None, "tenant_id", "token_group"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    installation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    cloud_id: Mapped[str] = mapped_column(Text, nullable=False)
    site_url: Mapped[str] = mapped_column(Text, nullable=False)
    scopes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(32), nullable=False, default="active")
    status_reason: Mapped[str | None] = mapped_column(Text)
    data_key_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    access_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Connections from one consent share one token pair: refreshed together, under lock.
    token_group: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The Jira dynamic webhooks registered on the site, their JQL and expiry.
    webhook_ids: Mapped[list[int]] = mapped_column(JSONB, nullable=False, default=list)
    webhook_jql: Mapped[str | None] = mapped_column(Text)
    webhooks_expire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


def _token_context(connection: Connection, field: str) -> SealContext:
    return SealContext(connection.tenant_id, "connections", str(connection.id), field)


def create_connection(
    session: Session, keys: KeyService, cloud_id: str, site_url: str, scopes: str = ""
) -> Connection:
    """Create a connection (no tokens yet) with its own DEK."""
    tenant_id = session.info["tenant_id"]
    connection_id = uuid.uuid4()
    dek = keys.create(session, tenant_id, "connection", connection_id)
    connection = Connection(
        id=connection_id,
        tenant_id=tenant_id,
        cloud_id=cloud_id,
        site_url=site_url,
        scopes=scopes,
        data_key_id=dek.key_id,
    )
    session.add(connection)
    session.flush()
    return connection


def store_tokens(
    session: Session,
    keys: KeyService,
    connection: Connection,
    access_token: str,
    refresh_token: str,
    expires_at: datetime,
) -> None:
    """Seal and store a token pair; both change in the caller's one transaction."""
    key_id = connection.data_key_id
    connection.access_token = keys.seal(
        session, key_id, _token_context(connection, "access_token"), access_token
    )
    connection.refresh_token = keys.seal(
        session, key_id, _token_context(connection, "refresh_token"), refresh_token
    )
    connection.token_expires_at = expires_at
    session.flush()


def tokens_of(session: Session, keys: KeyService, connection: Connection) -> tuple[str, str]:
    """Open a connection's (access token, refresh token)."""
    if connection.access_token is None or connection.refresh_token is None:
        raise LookupError("connection has no tokens")
    access = keys.open(session, connection.access_token, _token_context(connection, "access_token"))
    refresh = keys.open(
        session, connection.refresh_token, _token_context(connection, "refresh_token")
    )
    return access.decode(), refresh.decode()
