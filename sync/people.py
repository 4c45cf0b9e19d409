"""Who a mirrored issue is assigned to: the same account on the same site, else the
person with the same visible email on the other site, else the integration's default."""

from __future__ import annotations

from jira.client import JiraClient
from jira.errors import PermanentError
from runtime import Runtime

CACHE_SECONDS = 24 * 3600


def _email_of(client: JiraClient, account_id: str) -> str | None:
    try:
        user = client.call("get_user", params={"accountId": account_id}).json()
    except PermanentError:
        return None
    email = user.get("emailAddress")
    return email.lower() if isinstance(email, str) and "@" in email else None


def _account_with_email(client: JiraClient, email: str) -> str | None:
    found = client.call("search_users", params={"query": email}).json()
    for user in found if isinstance(found, list) else []:
        if str(user.get("emailAddress", "")).lower() == email and user.get("active", True):
            return user.get("accountId")
    return None


def resolve_assignee(
    runtime: Runtime,
    account_id: str | None,
    origin: tuple[str, JiraClient],
    other: tuple[str, JiraClient],
    default: str | None,
) -> str | None:
    """The account on the ``other`` site (site URL, client) for ``account_id`` on the
    ``origin`` site. Cross-site matches are cached for a day."""
    if account_id is None:
        return default
    if origin[0] == other[0]:
        return account_id
    cache_key = f"tandem:people:{origin[0]}:{other[0]}:{account_id}"
    cached = runtime.redis.get(cache_key)
    if cached is not None:
        return cached.decode() or default
    email = _email_of(origin[1], account_id)
    match = _account_with_email(other[1], email) if email else None
    runtime.redis.set(cache_key, match or "", ex=CACHE_SECONDS)
    return match or default
