"""Tandem behind the sandbox's Forge platform: the manifest as `forge deploy` reads it,
installed on a sandbox site, and the settings that make Tandem its remote."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import yaml
from sqlalchemy import select

import runtime as runtime_module
from app import create_app
from config import Settings
from jira.client import JiraClient
from jira.forge_manifest import MANIFEST
from jira.signing import BearerCredentials
from models.forge_installations import ForgeInstallation
from models.installations import Installation
from models.integration_config import create_integration
from runtime import Runtime
from sandbox.testing import RunningSandbox, running_sandbox
from tests.support.http_server import serving_later
from tests.sync_world import World

APP_ID = "ari:cloud:ecosystem::app/6b7e2f5c-1d3a-4c8e-9f00-5a1b2c3d4e5f"
SITE = "alpha"


@cache
def _manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text())


def manifest(app_id: str = APP_ID) -> dict[str, Any]:
    """The checked-in manifest with the app id `forge register` would write."""
    doc = copy.deepcopy(_manifest())
    doc["app"]["id"] = app_id
    return doc


def forge_settings(settings: Settings, url: str, app_key: str, sandbox: RunningSandbox) -> Settings:
    """Tandem at ``url`` as the remote of the Forge app (and its Connect app)."""
    return replace(
        settings,
        base_url=url,
        app_key=app_key,
        connect_install_keys_url=f"{sandbox.url}/connect-keys",
        forge_app_id=APP_ID,
        forge_jwks_url=sandbox.forge_jwks_url,
        oauth_api_base=f"{sandbox.url}/ex/jira",
    )


def install_forge(sandbox: RunningSandbox, url: str, app_key: str, site: str = SITE) -> str:
    """Install the Forge app on ``site``; its installation id."""
    installed = sandbox.forge_install(
        site, manifest(), {"TANDEM_BASE_URL": url, "CONNECT_KEY": app_key}
    )
    assert installed["status"] == 204, installed
    return installed["installationId"]


def app_client(sandbox: RunningSandbox, site: str = SITE) -> JiraClient:
    """A client acting as the Forge app on the site, with its system token."""
    install = sandbox.sandbox.forge.installation(site, APP_ID)
    token = sandbox.sandbox.forge.token_for(install)
    return JiraClient(BearerCredentials(sandbox.gateway_url(site), lambda: token))


@dataclass
class ForgeWorld(World):
    """A sync world whose site installed Tandem through Forge (or Connect, for now)."""

    forge_installation_id: str = ""
    url: str = ""

    def client(self) -> JiraClient:
        if not self.forge_installation_id:
            return super().client()  # installed through Connect
        return app_client(self.sandbox)  # type: ignore[arg-type]

    def forge_row(self) -> ForgeInstallation:
        with self.runtime.db.tenant_session(self.tenant_id) as session:
            return session.execute(select(ForgeInstallation)).scalar_one()


def _install(
    runtime: Runtime, sandbox: RunningSandbox, url: str, app_key: str, through: str
) -> tuple[uuid.UUID, uuid.UUID, str]:
    """(tenant, installation row, Forge installation id or "") of an install through
    Forge or through Connect."""
    if through == "connect":
        installed = sandbox.install(SITE, f"{url}/atlassian-connect.json")
        assert installed["installed"], installed
        tenant_id = runtime.db.directory_lookup("connect_client_key", installed["clientKey"])
        assert tenant_id is not None
        with runtime.db.tenant_session(tenant_id) as session:
            return tenant_id, session.execute(select(Installation.id)).scalar_one(), ""
    forge_id = install_forge(sandbox, url, app_key)
    tenant_id = runtime.db.directory_lookup("forge_installation", forge_id)
    assert tenant_id is not None
    with runtime.db.tenant_session(tenant_id) as session:
        forge = session.execute(select(ForgeInstallation)).scalar_one()
        return tenant_id, forge.installation_id, forge_id


@contextmanager
def forge_sync_world(
    settings: Settings,
    runtime: Runtime,
    app_key: str,
    integration: dict,
    through: str = "forge",
    **sandbox_options: Any,
) -> Iterator[ForgeWorld]:
    """``sync_world``'s world with Tandem as the Forge app's remote, installed through
    Forge only (or, ``through="connect"``, as the Connect app first); a sandbox seed of
    its own gives it sites (cloud ids) no other world's tenant holds."""
    sandbox_options.setdefault("seed", f"forge-{uuid.uuid4().hex[:12]}")
    with serving_later() as (url, mount):
        with running_sandbox(sites=(SITE,), **sandbox_options) as sandbox:
            app_settings = forge_settings(settings, url, app_key, sandbox)
            app = create_app(app_settings)
            mount(app)
            tenant_id, installation_id, forge_id = _install(runtime, sandbox, url, app_key, through)
            with runtime.db.tenant_session(tenant_id) as session:
                end = {"kind": "installation", "id": str(installation_id)}
                created = create_integration(
                    session,
                    {
                        **integration,
                        "source": {**end, "project": "ALP"},
                        "target": {**end, "project": "ALPR"},
                        "enabled": integration.get("enabled", True),
                    },
                )
            old = runtime_module._process_runtime
            worker_runtime = replace(runtime, settings=app_settings)
            runtime_module._process_runtime = worker_runtime
            try:
                yield ForgeWorld(
                    worker_runtime, sandbox, tenant_id, created.id, app_key, forge_id, url
                )
            finally:
                runtime_module._process_runtime = old
            app.extensions["tandem"].close()
