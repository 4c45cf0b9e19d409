"""Installations: one per Jira site that installed Tandem, through Connect, Forge or both.

The Connect part (clientKey, sealed sharedSecret and its DEK) is absent on a site that
installed the Forge app only; its Forge part lives in models/forge_installations.py."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, Session, mapped_column

from keys.envelope import SealContext
from models.base import Base, created_at, one_of, tenant_fk, tenant_scoped_fk, updated_at, uuid_pk

if TYPE_CHECKING:
    from keys.data_keys import KeyService

INSTALLATION_STATUSES = ("installed", "enabled", "disabled", "uninstalled")


class Installation(Base):
    """A Jira site's install of the app; a Connect sharedSecret is sealed under its own DEK."""

    __tablename__ = "installations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("client_key"),
        CheckConstraint(one_of("status", INSTALLATION_STATUSES), name="status"),
        CheckConstraint(
            "(client_key IS NULL) = (shared_secret IS NULL) "
            "AND (client_key IS NULL) = (data_key_id IS NULL)",
            name="connect_parts",
        ),
        tenant_scoped_fk("data_key_id", "data_keys"),
        Index(None, "tenant_id", "status"),
        Index(None, "tenant_id", "cloud_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    client_key: Mapped[str | None] = mapped_column(Text)
    base_url: Mapped[str] = mapped_column(Text, nullable=False)
    cloud_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), nullable=False, default="installed")
    data_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    shared_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


def _secret_context(installation_id: uuid.UUID, tenant_id: uuid.UUID) -> SealContext:
    return SealContext(tenant_id, "installations", str(installation_id), "shared_secret")


def create_installation(
    session: Session,
    keys: KeyService,
    client_key: str,
    base_url: str,
    shared_secret: str,
    cloud_id: str | None = None,
) -> Installation:
    """Create a Connect installation with its own DEK; the sharedSecret is stored sealed."""
    tenant_id = session.info["tenant_id"]
    installation_id = uuid.uuid4()
    dek = keys.create(session, tenant_id, "installation", installation_id)
    installation = Installation(
        id=installation_id,
        tenant_id=tenant_id,
        client_key=client_key,
        base_url=base_url,
        cloud_id=cloud_id,
        data_key_id=dek.key_id,
        shared_secret=keys.seal(
            session, dek.key_id, _secret_context(installation_id, tenant_id), shared_secret
        ),
    )
    session.add(installation)
    session.flush()
    return installation


def create_forge_only_installation(session: Session, base_url: str, cloud_id: str) -> Installation:
    """An installation of a site that installed the Forge app only (no Connect part)."""
    installation = Installation(
        id=uuid.uuid4(),
        tenant_id=session.info["tenant_id"],
        base_url=base_url,
        cloud_id=cloud_id,
    )
    session.add(installation)
    session.flush()
    return installation


def shared_secret_of(session: Session, keys: KeyService, installation: Installation) -> str:
    """Open an installation's sharedSecret (a Connect installation's only)."""
    if installation.shared_secret is None:
        raise LookupError("the installation has no Connect sharedSecret")
    context = _secret_context(installation.id, installation.tenant_id)
    return keys.open(session, installation.shared_secret, context).decode()


def reseal_shared_secret(
    session: Session, keys: KeyService, installation: Installation, shared_secret: str
) -> None:
    """Replace an installation's sharedSecret (a re-install sends a new one)."""
    context = _secret_context(installation.id, installation.tenant_id)
    assert installation.data_key_id is not None  # a Connect installation has its DEK
    installation.shared_secret = keys.seal(
        session, installation.data_key_id, context, shared_secret
    )
    session.flush()
