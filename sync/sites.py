"""A Jira client for each end of an integration: the installed site through Connect or
Forge (jira/forge_tokens.py), a connected site through OAuth."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import redis
from sqlalchemy.orm import Session

from jira.client import JiraClient
from jira.errors import AuthorizationError
from jira.forge_tokens import site_credentials
from jira.gate import SiteGate
from jira.meter import CallMeter
from jira.oauth_tokens import AccessTokens
from jira.signing import BearerCredentials
from models.connections import Connection
from models.installations import Installation
from models.integrations import Integration
from runtime import Runtime

ACTIVE = ("installed", "enabled")


@dataclass(frozen=True)
class SiteEnd:
    """One side of an integration: how to reach it and which project."""

    kind: str  # "installation" or "connection"
    id: uuid.UUID
    project: str
    base_url: str


def ends_of(integration: Integration) -> tuple[tuple[str, uuid.UUID], tuple[str, uuid.UUID]]:
    """(kind, id) of the source and the target."""

    def end(prefix: str) -> tuple[str, uuid.UUID]:
        installation = getattr(integration, f"{prefix}_installation_id")
        if installation is not None:
            return "installation", installation
        return "connection", getattr(integration, f"{prefix}_connection_id")

    return end("source"), end("target")


def client_for(
    runtime: Runtime, session: Session, kind: str, end_id: uuid.UUID, meter: CallMeter
) -> tuple[JiraClient, str]:
    """A client for one end, counting into ``meter``; returns (client, site base URL)."""
    if kind == "installation":
        installation = session.get(Installation, end_id)
        if installation is None or installation.status not in ACTIVE:
            raise AuthorizationError("the Jira site's installation is not active")
        credentials = site_credentials(runtime, session, installation)
        client = JiraClient(
            credentials,
            http=runtime.jira_http,
            meter=meter,
            gate=SiteGate(runtime.redis, credentials.base_url),
        )
        _remember_app_account(runtime, installation.id, client)
        return client, installation.base_url
    if kind == "connection":
        return connection_client(runtime, session, end_id, meter)
    raise ValueError(f"unknown end kind {kind!r}")


def connection_client(
    runtime: Runtime, session: Session, connection_id: uuid.UUID, meter: CallMeter
) -> tuple[JiraClient, str]:
    """A Bearer client for an OAuth-connected site (through the API gateway, by cloud id)
    and the site's own URL; refused while the connection is not active."""
    connection = session.get(Connection, connection_id)
    if connection is None:
        raise AuthorizationError("the connected site was removed from Tandem")
    if connection.status != "active":
        raise AuthorizationError(
            connection.status_reason or f"the connection to {connection.site_url} is not active"
        )
    tokens = AccessTokens(runtime, connection.tenant_id, connection.id)
    credentials = BearerCredentials(
        base_url=f"{runtime.settings.oauth_api_base}/{connection.cloud_id}",
        access_token=tokens,
        renew=tokens.renew,
    )
    client = JiraClient(
        credentials,
        http=runtime.jira_http,
        meter=meter,
        gate=SiteGate(runtime.redis, credentials.base_url),
    )
    _remember_app_account(runtime, connection.id, client)
    return client, connection.site_url


def app_account_key(end_id: uuid.UUID) -> str:
    return f"tandem:app-account:{end_id}"


def _remember_app_account(runtime: Runtime, end_id: uuid.UUID, client: JiraClient) -> None:
    """Learn (once a day) which Jira account our writes appear as on this site (the app's
    user through Connect, the consenting account through OAuth), so the webhooks our own
    writes cause can be dropped before they cost any call."""
    if runtime.redis.exists(app_account_key(end_id)):
        return
    account = client.call("myself").json().get("accountId")
    if account:
        runtime.redis.set(app_account_key(end_id), account, ex=24 * 3600)


def _actor(payload: dict) -> str | None:
    """Who made the change a webhook reports: its ``user``; comment events carry none, so
    the comment's last writer for a creation or an edit (a deletion's is not known)."""
    if payload.get("webhookEvent") in ("comment_created", "comment_updated"):
        return ((payload.get("comment") or {}).get("updateAuthor") or {}).get("accountId")
    return (payload.get("user") or {}).get("accountId")


def is_own_change(runtime: Runtime, end_id: uuid.UUID, payload: dict) -> bool:
    """Whether a webhook reports a change made by Tandem itself on this site."""
    actor = _actor(payload)
    known = runtime.redis.get(app_account_key(end_id))
    return bool(actor and known and known.decode() == actor)


def is_known_own_change(runtime: Runtime, end_id: uuid.UUID, payload: dict) -> bool:
    """``is_own_change`` for the webhook routes: the account is cached in the process for
    a few seconds, and an unknown account or an unreachable Redis answers False (the
    event is then stored, and its job decides). Dropping our own echoes here saves each
    of them an inbox row and a job."""
    actor = _actor(payload)
    if not actor or not runtime.redis_breaker.allows():
        return False

    def load(key: str) -> str | None:
        value = runtime.redis.get(key)
        return value.decode() if value else None

    try:
        return runtime.app_accounts.get_or_load(app_account_key(end_id), load) == actor
    except (redis.ConnectionError, redis.TimeoutError):
        runtime.redis_breaker.trip()
        return False
