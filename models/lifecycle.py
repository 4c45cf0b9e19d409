"""Connect lifecycle: install, re-install, enable/disable, uninstall; and the look-up
of an installation's sharedSecret for verifying its tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keys.data_keys import KeyService
from models.audit import record_audit
from models.db import Database
from models.deletion_requests import cancel_deletion, schedule_deletion
from models.installations import Installation, create_installation, reseal_shared_secret
from models.installations import shared_secret_of as open_shared_secret
from models.tenants import create_tenant, register_directory_key

CLIENT_KEY = "connect_client_key"


@dataclass(frozen=True)
class InstallRequest:
    """The parts of an ``installed`` callback Tandem keeps."""

    client_key: str
    shared_secret: str
    base_url: str
    cloud_id: str | None = None

    def __repr__(self) -> str:  # never print the secret
        return f"InstallRequest(client_key={self.client_key!r}, base_url={self.base_url!r})"


@dataclass(frozen=True)
class ConnectInstallation:
    """An installation found by clientKey, with its opened sharedSecret."""

    tenant_id: uuid.UUID
    installation_id: uuid.UUID
    client_key: str
    status: str
    shared_secret: str

    def __repr__(self) -> str:
        return f"ConnectInstallation(tenant_id={self.tenant_id}, status={self.status!r})"


def install(db: Database, keys: KeyService, request: InstallRequest) -> tuple[uuid.UUID, bool]:
    """Create the tenant and installation, or re-install an existing one.

    Returns (tenant id, whether it was a re-install). Safe against two concurrent
    first installs of the same clientKey: the loser becomes a re-install.
    """
    tenant_id = db.directory_lookup(CLIENT_KEY, request.client_key)
    if tenant_id is None:
        try:
            return _first_install(db, keys, request), False
        except IntegrityError:
            tenant_id = db.directory_lookup(CLIENT_KEY, request.client_key)
            if tenant_id is None:
                raise
    _reinstall(db, keys, tenant_id, request)
    return tenant_id, True


def _first_install(db: Database, keys: KeyService, request: InstallRequest) -> uuid.UUID:
    tenant_id = uuid.uuid4()
    with db.tenant_session(tenant_id) as session:
        create_tenant(session, urlsplit(request.base_url).hostname or request.base_url)
        register_directory_key(session, CLIENT_KEY, request.client_key)
        if request.cloud_id and db.directory_lookup("cloud_id", request.cloud_id) is None:
            register_directory_key(session, "cloud_id", request.cloud_id)
        installation = create_installation(
            session,
            keys,
            request.client_key,
            request.base_url,
            request.shared_secret,
            request.cloud_id,
        )
        record_audit(
            session,
            tenant_id,
            "atlassian",
            "installation.installed",
            subject=str(installation.id),
            base_url=request.base_url,
        )
    return tenant_id


def _reinstall(
    db: Database, keys: KeyService, tenant_id: uuid.UUID, request: InstallRequest
) -> None:
    with db.tenant_session(tenant_id) as session:
        installation = _by_client_key(session, request.client_key)
        previous_url = installation.base_url
        reseal_shared_secret(session, keys, installation, request.shared_secret)
        installation.base_url = request.base_url
        installation.cloud_id = request.cloud_id or installation.cloud_id
        if request.cloud_id and db.directory_lookup("cloud_id", request.cloud_id) is None:
            register_directory_key(session, "cloud_id", request.cloud_id)  # a Forge move finds it
        installation.status = "installed"
        cancelled = cancel_deletion(session)
        record_audit(
            session,
            tenant_id,
            "atlassian",
            "installation.reinstalled",
            subject=str(installation.id),
            base_url=request.base_url,
            previous_base_url=previous_url,
            secret_replaced=True,
            deletion_cancelled=cancelled,
        )


def _by_client_key(session: Session, client_key: str) -> Installation:
    return session.execute(
        select(Installation).where(Installation.client_key == client_key)
    ).scalar_one()


def set_status(db: Database, client_key: str, status: str, actor: str = "atlassian") -> bool:
    """Mark an installation enabled/disabled/uninstalled (audited); False if unknown."""
    tenant_id = db.directory_lookup(CLIENT_KEY, client_key)
    if tenant_id is None:
        return False
    with db.tenant_session(tenant_id) as session:
        installation = _by_client_key(session, client_key)
        previous = installation.status
        installation.status = status
        details: dict[str, object] = {"previous_status": previous}
        if status == "uninstalled":
            request = schedule_deletion(session, reason="app uninstalled")
            details["deletion_after"] = request.delete_after.isoformat()
        record_audit(
            session,
            tenant_id,
            actor,
            f"installation.{status}",
            subject=str(installation.id),
            **details,
        )
    return True


def find_installation(
    db: Database, keys: KeyService, client_key: str
) -> ConnectInstallation | None:
    """The installation for a clientKey with its sharedSecret opened, or None."""
    tenant_id = db.directory_lookup(CLIENT_KEY, client_key)
    if tenant_id is None:
        return None
    with db.tenant_session(tenant_id) as session:
        installation = session.execute(
            select(Installation).where(Installation.client_key == client_key)
        ).scalar_one_or_none()
        if installation is None:
            return None
        return ConnectInstallation(
            tenant_id=tenant_id,
            installation_id=installation.id,
            client_key=client_key,
            status=installation.status,
            shared_secret=open_shared_secret(session, keys, installation),
        )
