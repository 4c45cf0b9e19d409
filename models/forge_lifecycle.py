"""Forge lifecycle: find the tenant of a Forge installation, carry a Connect install over
to Forge, install a new site, uninstall, and keep the newest app system token.

A Forge installation is found by its installation id through the tenant directory
(kind ``forge_installation``). The first time one is seen, a site whose Connect
installation Tandem holds keeps its tenant: the site's cloud id leads to the tenant
(kind ``cloud_id``, registered by the Connect install) and the Forge installation is
attached to that tenant's installation row, so its keys, integrations and links stay as
they are and both paths work during the move.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keys.data_keys import KeyService
from models.audit import record_audit
from models.connections import Connection
from models.db import Database
from models.deletion_requests import cancel_deletion, schedule_deletion
from models.forge_installations import (
    ForgeInstallation,
    create_forge_installation,
    drop_system_token,
    store_system_token,
    token_is_newer,
)
from models.installations import Installation, create_forge_only_installation
from models.tenants import create_tenant, register_directory_key

FORGE = "forge_installation"
CLOUD_ID = "cloud_id"


@dataclass(frozen=True)
class ForgeIdentity:
    """Who a verified invocation says it is (from the Forge Invocation Token)."""

    installation_id: str  # ari:cloud:ecosystem::installation/<uuid>
    app_id: str
    cloud_id: str
    api_base_url: str


@dataclass(frozen=True)
class ForgeSite:
    """A Forge installation matched to its tenant and its site's installation row."""

    tenant_id: uuid.UUID
    installation_id: uuid.UUID  # the installations row
    forge_id: uuid.UUID  # the forge_installations row
    cloud_id: str
    api_base_url: str
    status: str
    token_expires_at: datetime | None
    connect: bool  # the site also has a Connect installation
    new: bool = False  # made by this call (installed or carried over from Connect)


def _site(forge: ForgeInstallation, installation: Installation, new: bool = False) -> ForgeSite:
    return ForgeSite(
        tenant_id=forge.tenant_id,
        installation_id=forge.installation_id,
        forge_id=forge.id,
        cloud_id=forge.cloud_id,
        api_base_url=forge.api_base_url,
        status=forge.status,
        token_expires_at=forge.token_expires_at,
        connect=installation.client_key is not None,
        new=new,
    )


def _by_forge_id(session: Session, forge_installation_id: str) -> ForgeInstallation | None:
    return session.execute(
        select(ForgeInstallation).where(
            ForgeInstallation.forge_installation_id == forge_installation_id
        )
    ).scalar_one_or_none()


def find_forge_site(db: Database, forge_installation_id: str) -> ForgeSite | None:
    """The known Forge installation with this id, or None."""
    tenant_id = db.directory_lookup(FORGE, forge_installation_id)
    if tenant_id is None:
        return None
    with db.tenant_session(tenant_id) as session:
        forge = _by_forge_id(session, forge_installation_id)
        if forge is None:
            return None
        return _site(forge, session.get_one(Installation, forge.installation_id))


def _connect_installation(session: Session, cloud_id: str) -> Installation | None:
    """The tenant's Connect installation of the site ``cloud_id``. One whose cloud id was
    never sent is it when no OAuth connection of the tenant holds the cloud id (only a
    Connect install or an OAuth connection registers a cloud id in the directory)."""
    installation = (
        session.execute(
            select(Installation)
            .where(Installation.client_key.is_not(None))
            .order_by(Installation.created_at)
        )
        .scalars()
        .first()
    )
    if installation is None or installation.cloud_id not in (cloud_id, None):
        return None
    if installation.cloud_id is None:
        connected = session.execute(
            select(Connection.id).where(Connection.cloud_id == cloud_id)
        ).first()
        if connected is not None:
            return None
        installation.cloud_id = cloud_id
    return installation


def adopt_connect_site(db: Database, keys: KeyService, who: ForgeIdentity) -> ForgeSite | None:
    """Attach a first-seen Forge installation to the site's Connect installation (same
    tenant, keys, integrations and links), or None when Tandem holds none for the site."""
    tenant_id = db.directory_lookup(CLOUD_ID, who.cloud_id)
    if tenant_id is None:
        return None
    try:
        with db.tenant_session(tenant_id) as session:
            installation = _connect_installation(session, who.cloud_id)
            if installation is None:
                return None
            register_directory_key(session, FORGE, who.installation_id)
            forge = _new_forge(session, keys, installation.id, who)
            record_audit(
                session,
                tenant_id,
                "atlassian",
                "installation.forge_adopted",
                subject=str(installation.id),
                forge_installation_id=who.installation_id,
                cloud_id=who.cloud_id,
            )
            return _site(forge, installation, new=True)
    except IntegrityError:  # a concurrent first invocation attached it first
        return find_forge_site(db, who.installation_id)


def _new_forge(
    session: Session, keys: KeyService, installation_id: uuid.UUID, who: ForgeIdentity
) -> ForgeInstallation:
    return create_forge_installation(
        session,
        keys,
        installation_id,
        who.installation_id,
        who.app_id,
        who.cloud_id,
        who.api_base_url,
    )


def install_forge_site(
    db: Database, keys: KeyService, who: ForgeIdentity, base_url: str
) -> ForgeSite:
    """A new tenant for a site that installed the Forge app and holds no Connect install
    of ours; safe against a concurrent first install (the loser finds the winner's)."""
    tenant_id = uuid.uuid4()
    try:
        with db.tenant_session(tenant_id) as session:
            create_tenant(session, urlsplit(base_url).hostname or base_url)
            register_directory_key(session, FORGE, who.installation_id)
            if db.directory_lookup(CLOUD_ID, who.cloud_id) is None:
                register_directory_key(session, CLOUD_ID, who.cloud_id)
            installation = create_forge_only_installation(session, base_url, who.cloud_id)
            forge = _new_forge(session, keys, installation.id, who)
            record_audit(
                session,
                tenant_id,
                "atlassian",
                "installation.installed",
                subject=str(installation.id),
                base_url=base_url,
                through="forge",
                forge_installation_id=who.installation_id,
            )
            return _site(forge, installation, new=True)
    except IntegrityError:
        found = find_forge_site(db, who.installation_id)
        if found is None:
            raise
        return found


def reinstall_forge_site(db: Database, site: ForgeSite, base_url: str | None) -> ForgeSite:
    """An ``installed`` event for a known Forge installation: active again (with the
    site's URL as Jira now says it), and a pending deletion is cancelled."""
    with db.tenant_session(site.tenant_id) as session:
        forge = session.get_one(ForgeInstallation, site.forge_id, with_for_update=True)
        installation = session.get_one(Installation, forge.installation_id)
        previous = forge.status
        forge.status = "installed"
        if installation.client_key is None:
            installation.status = "installed"
            installation.base_url = base_url or installation.base_url
        cancelled = cancel_deletion(session)
        record_audit(
            session,
            site.tenant_id,
            "atlassian",
            "installation.forge_reinstalled",
            subject=str(installation.id),
            previous_status=previous,
            deletion_cancelled=cancelled,
        )
        return _site(forge, installation)


def move_api_base_url(db: Database, site: ForgeSite, api_base_url: str) -> None:
    """Forge now routes the site's API calls elsewhere (a verified token says so)."""
    with db.tenant_session(site.tenant_id) as session:
        forge = session.get_one(ForgeInstallation, site.forge_id, with_for_update=True)
        record_audit(
            session,
            site.tenant_id,
            "atlassian",
            "installation.forge_api_moved",
            subject=str(forge.installation_id),
            previous=forge.api_base_url,
            api_base_url=api_base_url,
        )
        forge.api_base_url = api_base_url


def uninstall_forge_site(db: Database, site: ForgeSite) -> None:
    """The Forge app was uninstalled: its token is dropped; a site with no Connect part
    left is uninstalled too, which schedules the workspace's deletion as Connect does."""
    with db.tenant_session(site.tenant_id) as session:
        forge = session.get_one(ForgeInstallation, site.forge_id, with_for_update=True)
        installation = session.get_one(Installation, forge.installation_id)
        forge.status = "uninstalled"
        drop_system_token(session, forge)
        details: dict[str, object] = {"forge_installation_id": forge.forge_installation_id}
        if installation.client_key is None:
            installation.status = "uninstalled"
            request = schedule_deletion(session, reason="app uninstalled")
            details["deletion_after"] = request.delete_after.isoformat()
        record_audit(
            session,
            site.tenant_id,
            "atlassian",
            "installation.forge_uninstalled",
            subject=str(installation.id),
            **details,
        )


def remember_system_token(
    db: Database, keys: KeyService, site: ForgeSite, token: str, expires_at: datetime
) -> bool:
    """Keep ``token`` if it outlives the one held (under the row lock, so concurrent
    invocations keep the newest); True if it was kept."""
    with db.tenant_session(site.tenant_id) as session:
        forge = session.get(ForgeInstallation, site.forge_id, with_for_update=True)
        if forge is None or forge.status != "installed" or not token_is_newer(forge, expires_at):
            return False
        store_system_token(session, keys, forge, token, expires_at)
        return True
