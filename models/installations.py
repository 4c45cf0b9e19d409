"""Connect installations: one per Jira site that installed Tandem."""

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
    """A Jira site's install of the app; the sharedSecret is sealed under its own DEK."""

    __tablename__ = "installations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("client_key"),
        CheckConstraint(one_of("status", INSTALLATION_STATUSES), name="status"),
        tenant_scoped_fk("data_key_id", "data_keys"),
        Index(None, "tenant_id", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    tenant_id: Mapped[uuid.UUID] = tenant_fk()
    client_key: Mapped[str] = mapped_column(Text, nullable=False)
    base_url: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False, default="installed")
    data_key_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    shared_secret: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


def _secret_context(installation_id: uuid.UUID, tenant_id: uuid.UUID) -> SealContext:
    return SealContext(tenant_id, "installations", str(installation_id), "shared_secret")


def create_installation(
    session: Session, keys: KeyService, client_key: str, base_url: str, shared_secret: str
) -> Installation:
    """Create an installation with its own DEK; the sharedSecret is stored sealed."""
    tenant_id = session.info["tenant_id"]
    installation_id = uuid.uuid4()
    dek = keys.create(session, tenant_id, "installation", installation_id)
    installation = Installation(
        id=installation_id,
        tenant_id=tenant_id,
        client_key=client_key,
        base_url=base_url,
        data_key_id=dek.key_id,
        shared_secret=keys.seal(
            session, dek.key_id, _secret_context(installation_id, tenant_id), shared_secret
        ),
    )
    session.add(installation)
    session.flush()
    return installation


def shared_secret_of(session: Session, keys: KeyService, installation: Installation) -> str:
    """Open an installation's sharedSecret."""
    context = _secret_context(installation.id, installation.tenant_id)
    return keys.open(session, installation.shared_secret, context).decode()


def reseal_shared_secret(
    session: Session, keys: KeyService, installation: Installation, shared_secret: str
) -> None:
    """Replace an installation's sharedSecret (a re-install sends a new one)."""
    context = _secret_context(installation.id, installation.tenant_id)
    installation.shared_secret = keys.seal(
        session, installation.data_key_id, context, shared_secret
    )
    session.flush()
