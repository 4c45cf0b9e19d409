"""Finishing a consent: exchange the code, find the sites it reaches, store one connection
per site with the sealed tokens, then ask for their dynamic webhooks."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from auth.oauth_state import ConsentState
from jira import oauth_endpoints
from jira.calls import oauth_scopes
from models.connection_lifecycle import ConnectOutcome, connect_sites
from runtime import Runtime
from sync.connection_jobs import request_webhook_sync
from sync.sites import app_account_key

log = logging.getLogger(__name__)
NONCE_PREFIX = "tandem:oauth-state:"


@dataclass(frozen=True)
class ConsentResult:
    """What the callback page shows: sites connected or refused, and scopes not granted."""

    outcome: ConnectOutcome
    missing_scopes: tuple[str, ...]


def claim_state(runtime: Runtime, consent: ConsentState, max_age: int = 600) -> bool:
    """Use a state once: False if its nonce was seen before. Without Redis the check is
    skipped (the authorization code itself works only once)."""
    try:
        return bool(runtime.redis.set(NONCE_PREFIX + consent.nonce, 1, nx=True, ex=max_age))
    except (redis.ConnectionError, redis.TimeoutError):
        log.warning("redis unreachable: the OAuth state's nonce was not checked")
        return True


def complete_consent(runtime: Runtime, consent: ConsentState, code: str) -> ConsentResult:
    """Exchange ``code`` and connect every site it reaches to the consent's tenant.

    Raises GrantRefused for a used or expired code, TransientError when Atlassian cannot
    be reached, another JiraError for anything else (each in plain words)."""
    settings, http = runtime.settings, runtime.jira_http
    tokens = oauth_endpoints.exchange_code(settings, http, code)
    sites = oauth_endpoints.accessible_resources(settings, http, tokens.access_token)
    outcome = connect_sites(
        runtime.db, runtime.keys, consent.tenant_id, consent.installation_id, tokens, sites
    )
    connected = [connection_id for connection_id, _site, _again in outcome.connected]
    for connection_id in connected:
        try:  # the consenting account may differ from last time: learn it again
            runtime.redis.delete(app_account_key(connection_id))
        except (redis.ConnectionError, redis.TimeoutError):
            log.warning("redis unreachable: the cached account of a reconnected site stays")
    request_webhook_sync(runtime, consent.tenant_id, connected)
    missing = tuple(sorted(set(oauth_scopes()) - set(tokens.scopes)))
    return ConsentResult(outcome, missing)
