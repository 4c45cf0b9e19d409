"""Tokens the sandbox signs when it calls an app, as Jira does.

- lifecycle `installed`/`uninstalled`: RS256, `kid` header, iss = clientKey, aud = [app baseUrl]
- everything else (enabled/disabled, webhooks): HS256 with the install's sharedSecret
Both carry qsh over the request path relative to the app's baseUrl.
- webhooks to OAuth 2.0 apps: `Bearer`, HS256 with the app's client secret (no qsh).
- iframes (web panels): HS256 with the sharedSecret, qsh = `context-qsh`, the viewing
  user in `sub` and the page's context (issue, project) in `context`.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from atlassian_jwt.url_utils import hash_url

LIFETIME = 180


def relative_url(app_base_url: str, url: str) -> str:
    """`url` relative to the app's baseUrl (path and query), as the qsh is computed."""
    base = app_base_url.rstrip("/")
    if not url.startswith(base):
        raise ValueError(f"{url} is not under {base}")
    rest = url[len(base) :]
    return rest if rest.startswith(("/", "?")) or not rest else "/" + rest


def join(app_base_url: str, path: str) -> str:
    """The absolute URL of a descriptor path (`/installed`) under the app's baseUrl."""
    return app_base_url.rstrip("/") + "/" + path.lstrip("/")


def signed_install_token(
    private_key: Any,
    kid: str,
    client_key: str,
    app_base_url: str,
    url: str,
    subject: str,
    now: int | None = None,
) -> str:
    """The RS256 token on `installed` and `uninstalled` callbacks."""
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": client_key,
        "sub": subject,
        "aud": [app_base_url],
        "qsh": hash_url("POST", relative_url(app_base_url, url)),
        "iat": issued,
        "exp": issued + LIFETIME,
    }
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": kid})


def shared_secret_token(
    secret: str,
    client_key: str,
    method: str,
    app_base_url: str,
    url: str,
    now: int | None = None,
) -> str:
    """The HS256 token Jira puts on webhooks and on `enabled`/`disabled` callbacks."""
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": client_key,
        "qsh": hash_url(method, relative_url(app_base_url, url)),
        "iat": issued,
        "exp": issued + LIFETIME,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def context_token(
    secret: str, client_key: str, account_id: str, context: dict[str, Any], now: int | None = None
) -> str:
    """The context JWT Jira puts on an iframe's URL (and `AP.context.getToken()` returns)."""
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": client_key,
        "sub": account_id,
        "aud": client_key,
        "qsh": "context-qsh",
        "context": context,
        "iat": issued,
        "exp": issued + LIFETIME,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def oauth_webhook_token(
    client_secret: str, client_id: str, cloud_id: str, account_id: str, now: int | None = None
) -> str:
    """The HS256 token on a dynamic webhook to an OAuth 2.0 app (`Authorization: Bearer`).

    Atlassian documents only that it is signed with the client secret; the sandbox's claims:
    iss = `jira:{cloudId}`, aud = client id, sub = the account whose grant registered it."""
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": f"jira:{cloud_id}",
        "aud": client_id,
        "sub": account_id,
        "context": {"cloudId": cloud_id},
        "iat": issued,
        "exp": issued + LIFETIME,
    }
    return jwt.encode(claims, client_secret, algorithm="HS256")
