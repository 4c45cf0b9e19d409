"""What every Forge invocation needs before its route's own work: the site it comes from
(known, carried over from Connect, or on ``installed`` a new one), checked against the
token, and the app system token it carries, kept if it is the newest."""

from __future__ import annotations

import logging
from dataclasses import replace

from auth.errors import ConnectAuthError
from auth.forge import Invocation, SystemToken
from jira.client import JiraClient
from jira.signing import BearerCredentials
from models.forge_lifecycle import (
    ForgeIdentity,
    ForgeSite,
    adopt_connect_site,
    find_forge_site,
    install_forge_site,
    move_api_base_url,
    remember_system_token,
)
from runtime import Runtime
from sync.token_wait import wake_waiting

log = logging.getLogger(__name__)


class UnknownInstallation(ConnectAuthError):
    """The token's installation is neither known nor a Connect site's to carry over."""


class MissingSystemToken(ValueError):
    """An ``installed`` event without the app system token Tandem needs to reach the site."""


def identity(invocation: Invocation) -> ForgeIdentity:
    return ForgeIdentity(
        invocation.installation_id,
        invocation.app_id,
        invocation.cloud_id,
        invocation.api_base_url,
    )


def site_for(
    runtime: Runtime,
    invocation: Invocation,
    installing: bool = False,
    token: SystemToken | None = None,
) -> ForgeSite:
    """The site of a verified invocation. A first-seen installation on a site whose
    Connect install Tandem holds is carried over; with ``installing`` (the ``installed``
    event) any other becomes a new workspace. ConnectAuthError when the installation is
    unknown or the token names another site than the installation's."""
    key = invocation.installation_id
    site = runtime.forge_sites.get_or_load(key, lambda k: find_forge_site(runtime.db, k))
    who = identity(invocation)
    if site is None:
        site = adopt_connect_site(runtime.db, runtime.keys, who)
    if site is None and installing:
        site = install_forge_site(runtime.db, runtime.keys, who, site_base_url(runtime, who, token))
    if site is None:
        raise UnknownInstallation("the token's installation is not an installation of this app")
    if site.cloud_id != invocation.cloud_id:
        raise ConnectAuthError("the token's installation belongs to another site")
    if site.api_base_url != invocation.api_base_url:
        move_api_base_url(runtime.db, site, invocation.api_base_url)
        runtime.forge_sites.forget(key)
        site = replace(site, api_base_url=invocation.api_base_url)
    return site


def site_base_url(runtime: Runtime, who: ForgeIdentity, token: SystemToken | None) -> str:
    """The site's own URL (``https://<name>.atlassian.net``), asked of Jira with the app
    system token: Forge tells a remote only the site's cloud id."""
    if token is None:
        raise MissingSystemToken("the installed event carries no app system token")
    client = JiraClient(
        BearerCredentials(who.api_base_url, lambda: token.token),
        http=runtime.jira_http,
        max_attempts=2,
        max_wait_seconds=2,
    )
    base_url = client.call("server_info").json().get("baseUrl")
    if not isinstance(base_url, str) or not base_url.startswith(("https://", "http://")):
        raise MissingSystemToken("Jira did not say the site's base URL")
    return base_url.rstrip("/")


def keep_token(
    runtime: Runtime,
    site: ForgeSite,
    invocation: Invocation,
    token: SystemToken | None,
    look: bool = False,
) -> bool:
    """Keep the invocation's app system token if it outlives the one held, and run the
    work that was waiting for one; True if it was kept. Without ``look`` the site as
    cached says what is held (a token a worker dropped since shows a few seconds late)."""
    if token is None or site.status != "installed":
        return False
    held = site.token_expires_at
    if not look and held is not None and token.expires_at <= held:
        return False  # the usual case: Forge resends the token it sent last time
    kept = remember_system_token(runtime.db, runtime.keys, site, token.token, token.expires_at)
    runtime.forge_sites.forget(invocation.installation_id)
    if kept:
        woken = wake_waiting(runtime, site.installation_id)
        if woken:
            log.info("forge token for %s: %d waiting reconciles run now", site.tenant_id, woken)
    return kept
