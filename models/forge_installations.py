"""Forge installations: the Forge app installed on a Jira site, and the newest app system
token Forge sent for it, sealed under the Forge installation's own DEK."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, DateTime, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, Session, mapped_column

from keys.envelope import SealContext
from models.base import Base, created_at, one_of, tenant_fk, tenant_scoped_fk, updated_at, uuid_pk

if TYPE_CHECKING:
    from keys.data_keys import KeyService

FORGE_STATUSES = ("installed", "uninstalled")
OWNER_KIND = "forge_installation"
# A token this close to its expiry is not handed to a Jira call any more.
TOKEN_MARGIN = timedelta(seconds=60)


class ForgeInstallation(Base):
    """One Forge installation (``ari:cloud:ecosystem::installation/...``) on one site."""

    __tablename__ = "forge_installations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("forge_installation_id"),
        CheckConstraint(one_of("status", FORGE_STATUSES), name="status"),
        CheckConstraint(
            "(system_token IS NULL) = (token_expires_at IS NULL)", name="token_with_expiry"
        ),
        tenant_scoped_fk("installation_id", "installations"),
        tenant_scoped_fk("data_key_id", "data_keys"),
        Index(None, "tenant_id", "installation_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    installation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    forge_installation_id: Mapped[str] = mapped_column(Text, nullable=False)
    app_id: Mapped[str] = mapped_column(Text, nullable=False)
    cloud_id: Mapped[str] = mapped_column(Text, nullable=False)
    api_base_url: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False, default="installed")
    data_key_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    system_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


def _token_context(forge: ForgeInstallation) -> SealContext:
    return SealContext(forge.tenant_id, "forge_installations", str(forge.id), "system_token")


def create_forge_installation(
    session: Session,
    keys: KeyService,
    installation_id: uuid.UUID,
    forge_installation_id: str,
    app_id: str,
    cloud_id: str,
    api_base_url: str,
) -> ForgeInstallation:
    """A Forge installation of the session's tenant with its own DEK (no token yet)."""
    tenant_id = session.info["tenant_id"]
    row_id = uuid.uuid4()
    dek = keys.create(session, tenant_id, OWNER_KIND, row_id)
    forge = ForgeInstallation(
        id=row_id,
        tenant_id=tenant_id,
        installation_id=installation_id,
        forge_installation_id=forge_installation_id,
        app_id=app_id,
        cloud_id=cloud_id,
        api_base_url=api_base_url,
        data_key_id=dek.key_id,
    )
    session.add(forge)
    session.flush()
    return forge


def token_is_newer(forge: ForgeInstallation, expires_at: datetime) -> bool:
    """Whether a token expiring at ``expires_at`` outlives the one held (or none is)."""
    return forge.token_expires_at is None or expires_at > forge.token_expires_at


def store_system_token(
    session: Session, keys: KeyService, forge: ForgeInstallation, token: str, expires_at: datetime
) -> None:
    """Seal and keep ``token`` with its expiry (the caller checked it is the newest)."""
    forge.system_token = keys.seal(session, forge.data_key_id, _token_context(forge), token)
    forge.token_expires_at = expires_at
    session.flush()


def drop_system_token(session: Session, forge: ForgeInstallation) -> None:
    """Forget the held token (Jira refused it, or the app was uninstalled)."""
    forge.system_token = None
    forge.token_expires_at = None
    session.flush()


def valid_system_token(
    session: Session, keys: KeyService, forge: ForgeInstallation, now: datetime | None = None
) -> tuple[str, datetime] | None:
    """The held token and its expiry while it is live (a minute's margin), else None."""
    if forge.status != "installed" or forge.system_token is None:
        return None
    expires = forge.token_expires_at
    if expires is None or expires - TOKEN_MARGIN <= (now or datetime.now(UTC)):
        return None
    return keys.open(session, forge.system_token, _token_context(forge)).decode(), expires
