"""Confirm that a Jira user holds Jira's global ADMINISTER permission on the site.

Admin pages inside Jira trust no claim of the iframe: the app asks the site itself
(``POST /rest/api/3/permissions/check`` with the user's account id, the registered call
``check_permissions``), signed as the installation. A "yes" is remembered in Redis for
``CACHE_SECONDS`` per (installation, account); a "no" is never cached, so a newly
granted admin works at once and a revoked one within a minute.
"""

from __future__ import annotations

import hashlib
import uuid

from jira.client import JiraClient
from jira.errors import JiraError
from jira.signing import ConnectCredentials
from runtime import Runtime

CACHE_SECONDS = 60
ADMINISTER = "ADMINISTER"


class JiraUnavailable(RuntimeError):
    """The site did not answer the permission check; try again."""


def _cache_key(installation_id: uuid.UUID, account_id: str) -> str:
    digest = hashlib.sha256(account_id.encode()).hexdigest()[:32]
    return f"tandem:jira-admin:{installation_id}:{digest}"


def is_jira_admin(
    runtime: Runtime, installation_id: uuid.UUID, base_url: str, shared_secret: str, account_id: str
) -> bool:
    """Whether ``account_id`` is a Jira administrator of the installation's site."""
    key = _cache_key(installation_id, account_id)
    if runtime.redis.get(key):
        return True
    client = JiraClient(
        ConnectCredentials(base_url, runtime.settings.app_key, shared_secret),
        http=runtime.jira_http,
        max_attempts=2,
        max_wait_seconds=5,
    )
    try:
        answer = client.call(
            "check_permissions", json={"accountId": account_id, "globalPermissions": [ADMINISTER]}
        ).json()
    except (JiraError, ValueError) as error:
        raise JiraUnavailable("Jira did not answer the permission check") from error
    granted = ADMINISTER in (answer.get("globalPermissions") or [])
    if granted:
        runtime.redis.set(key, "1", ex=CACHE_SECONDS)
    return granted
