"""Access tokens for OAuth-connected sites: refreshed 60 s before they expire, with the
rotating refresh token saved atomically (the connection rows locked, expiry re-checked,
both new tokens stored in the same transaction). A grant Atlassian no longer honours
marks its connections revoked and pauses their integrations."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import requests

from jira import oauth_endpoints
from jira.errors import AuthorizationError
from models.connection_lifecycle import lock_token_group, revoke_group
from models.connections import Connection, store_tokens, tokens_of

if TYPE_CHECKING:
    from runtime import Runtime

REFRESH_MARGIN = timedelta(seconds=60)
SCOPE_MISMATCH = "scope does not match"


def _fresh(connection: Connection) -> bool:
    expires = connection.token_expires_at
    return expires is not None and expires - REFRESH_MARGIN > datetime.now(UTC)


def _refuse_inactive(connection: Connection | None) -> Connection:
    if connection is None:
        raise AuthorizationError("the connected site was removed from Tandem")
    if connection.status != "active":
        raise AuthorizationError(
            connection.status_reason or f"the connection to {connection.site_url} is not active"
        )
    if connection.access_token is None or connection.refresh_token is None:
        raise AuthorizationError(
            f"Tandem holds no OAuth tokens for {connection.site_url}; "
            "reconnect the site in Tandem's admin page."
        )
    return connection


def access_token_for(runtime: Runtime, tenant_id: uuid.UUID, connection_id: uuid.UUID) -> str:
    """A live access token for the connection, refreshed first if it expires within 60 s."""
    return _access_token(runtime, tenant_id, connection_id)[0]


def _access_token(
    runtime: Runtime, tenant_id: uuid.UUID, connection_id: uuid.UUID
) -> tuple[str, datetime]:
    with runtime.db.tenant_session(tenant_id) as session:
        connection = _refuse_inactive(session.get(Connection, connection_id))
        if _fresh(connection):
            assert connection.token_expires_at is not None
            return tokens_of(session, runtime.keys, connection)[0], connection.token_expires_at
    return refresh_access_token(runtime, tenant_id, connection_id)


def refresh_access_token(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    rejected: str | None = None,
) -> tuple[str, datetime]:
    """Refresh under lock. Without ``rejected`` a token another worker refreshed meanwhile
    is used as is; with it (the token the API just refused) only a different one is."""
    failure: AuthorizationError | None = None
    with runtime.db.tenant_session(tenant_id) as session:
        group = lock_token_group(session, connection_id)
        connection = _refuse_inactive(group[0] if group else None)
        access, refresh_token = tokens_of(session, runtime.keys, connection)
        if _fresh(connection) and access != rejected:
            assert connection.token_expires_at is not None
            return access, connection.token_expires_at  # another worker refreshed already
        try:
            tokens = oauth_endpoints.refresh(runtime.settings, runtime.jira_http, refresh_token)
        except oauth_endpoints.GrantRefused:
            revoke_group(session, group, cause="the token endpoint refused the refresh token")
            failure = AuthorizationError(connection.status_reason or "", 403, "oauth_refresh")
        else:
            for member in group:
                store_tokens(
                    session,
                    runtime.keys,
                    member,
                    tokens.access_token,
                    tokens.refresh_token,
                    tokens.expires_at,
                )
            return tokens.access_token, tokens.expires_at
    raise failure  # after the commit: the revocation and the pauses are stored


class AccessTokens:
    """The token provider of one client: keeps the token in memory until it is near
    expiry, and after a 401 finds out whether the grant is gone (see ``renew``)."""

    def __init__(self, runtime: Runtime, tenant_id: uuid.UUID, connection_id: uuid.UUID) -> None:
        self.runtime = runtime
        self.tenant_id = tenant_id
        self.connection_id = connection_id
        self._token = ""
        self._good_until = 0.0

    def __call__(self) -> str:
        if not self._token or time.time() >= self._good_until:
            self._keep(*_access_token(self.runtime, self.tenant_id, self.connection_id))
        return self._token

    def renew(self, response: requests.Response) -> bool:
        """After a 401: a missing scope is final (False); otherwise refresh, which raises
        AuthorizationError (and revokes) if Atlassian no longer honours the grant."""
        if SCOPE_MISMATCH in response.text.lower():
            return False
        rejected, self._token = self._token, ""
        self._keep(
            *refresh_access_token(self.runtime, self.tenant_id, self.connection_id, rejected)
        )
        return True

    def _keep(self, token: str, expires_at: datetime) -> None:
        self._token = token
        self._good_until = (expires_at - REFRESH_MARGIN).timestamp()

    def __repr__(self) -> str:
        return f"AccessTokens(connection_id={self.connection_id})"
