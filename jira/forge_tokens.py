"""Credentials for a site installed through Forge: the newest app system token Forge sent
(kept sealed on the Forge installation), sent as ``Authorization: Bearer`` to the site's
API base URL (``https://api.atlassian.com/ex/jira/<cloudId>``).

Tandem cannot ask for a system token: Forge hands one over with every invocation. So when
none held is valid any more, the work waits (CredentialsPending) for the next invocation
or the hourly scheduled trigger, instead of failing. During a move from Connect a site
has both; its held Forge token is used while valid, the Connect sharedSecret otherwise."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from jira.errors import AuthorizationError, CredentialsPending
from jira.signing import BearerCredentials, ConnectCredentials, Credentials
from models.forge_installations import (
    TOKEN_MARGIN,
    ForgeInstallation,
    drop_system_token,
    valid_system_token,
)
from models.installations import Installation, shared_secret_of

if TYPE_CHECKING:
    from runtime import Runtime

SCOPE_MISMATCH = "scope does not match"


def waiting_reason(installation: Installation) -> str:
    """What an admin reads while a Forge-only site waits for a token."""
    return (
        f"waiting for a Forge app token for {installation.base_url}: the next Forge "
        "invocation or the hourly scheduled trigger brings one"
    )


def forge_of(session: Session, installation_id: uuid.UUID) -> ForgeInstallation | None:
    """The installed Forge installation of a site's installation, if any."""
    return session.execute(
        select(ForgeInstallation).where(
            ForgeInstallation.installation_id == installation_id,
            ForgeInstallation.status == "installed",
        )
    ).scalar_one_or_none()


def site_credentials(runtime: Runtime, session: Session, installation: Installation) -> Credentials:
    """How to call an installed site: its Forge system token while one is valid, else
    its Connect sharedSecret; a Forge-only site without a valid token waits."""
    forge = forge_of(session, installation.id)
    if forge is not None and valid_system_token(session, runtime.keys, forge) is not None:
        tokens = SystemTokens(runtime, installation, forge.id)
        return BearerCredentials(forge.api_base_url, tokens, tokens.renew)
    if installation.shared_secret is not None:
        return ConnectCredentials(
            installation.base_url,
            runtime.settings.app_key,
            shared_secret_of(session, runtime.keys, installation),
        )
    if forge is not None:
        raise CredentialsPending(waiting_reason(installation), str(installation.id))
    raise AuthorizationError(f"Tandem holds no credentials for {installation.base_url}")


class SystemTokens:
    """The token provider of one client: the held token until near its expiry; after a
    401 the refused token is dropped and a newer one (stored meanwhile) is taken, else
    the work waits."""

    def __init__(self, runtime: Runtime, installation: Installation, forge_id: uuid.UUID) -> None:
        self.runtime = runtime
        self.tenant_id = installation.tenant_id
        self.forge_id = forge_id
        self.reason = waiting_reason(installation)
        self.waiting_on = str(installation.id)
        self._token = ""
        self._good_until = 0.0

    def __call__(self) -> str:
        if not self._token or time.time() >= self._good_until:
            self._load(rejected=None)
        return self._token

    def renew(self, response: requests.Response) -> bool:
        """After a 401: a missing scope is final (False); otherwise forget the refused
        token and use a newer one, or raise CredentialsPending."""
        if SCOPE_MISMATCH in response.text.lower():
            return False
        rejected, self._token = self._token, ""
        self._load(rejected=rejected)
        return True

    def _load(self, rejected: str | None) -> None:
        with self.runtime.db.tenant_session(self.tenant_id) as session:
            forge = session.get(ForgeInstallation, self.forge_id, with_for_update=True)
            if forge is None or forge.status != "installed":
                raise AuthorizationError("the Forge app was uninstalled from the site")
            held = valid_system_token(session, self.runtime.keys, forge)
            if held is not None and held[0] == rejected:
                drop_system_token(session, forge)
                held = None
        if held is None:
            raise CredentialsPending(self.reason, self.waiting_on)
        self._token = held[0]
        self._good_until = (held[1] - TOKEN_MARGIN).timestamp()

    def __repr__(self) -> str:
        return f"SystemTokens(forge_id={self.forge_id})"
