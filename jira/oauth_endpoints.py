"""Atlassian's OAuth 2.0 (3LO) endpoints: exchange a code, refresh (rotating refresh
tokens), and list the sites a token reaches. Tokens and codes are never logged."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from config import Settings
from jira.errors import AuthorizationError, PermanentError, TransientError

log = logging.getLogger(__name__)
TIMEOUT = (3.05, 10.0)


class GrantRefused(AuthorizationError):
    """``invalid_grant``: the code or refresh token is used, expired or revoked."""


class ClientRefused(AuthorizationError):
    """Atlassian refused Tandem's own client id/secret (an operator must fix them)."""


@dataclass(frozen=True)
class TokenSet:
    """An access token, its rotating refresh token, when the access token expires, and the
    scopes granted."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    scopes: tuple[str, ...]

    def __repr__(self) -> str:  # never print the tokens
        return f"TokenSet(expires_at={self.expires_at.isoformat()}, scopes={self.scopes!r})"


@dataclass(frozen=True)
class Site:
    """One site a grant reaches (an accessible resource)."""

    cloud_id: str
    url: str
    name: str
    scopes: tuple[str, ...]


def exchange_code(settings: Settings, http: requests.Session, code: str) -> TokenSet:
    """``grant_type=authorization_code`` for the code the consent sent back."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": settings.oauth_redirect_url,
    }
    return _token_request(settings, http, form)


def refresh(settings: Settings, http: requests.Session, refresh_token: str) -> TokenSet:
    """``grant_type=refresh_token``: a new access token and a new refresh token (the old
    one stops working)."""
    return _token_request(
        settings, http, {"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


def revoke(settings: Settings, http: requests.Session, refresh_token: str) -> bool:
    """RFC 7009 revocation of a refresh token (and with it the grant, where the server
    honours it). True when the server answered 200; Atlassian documents no revocation
    for 3LO apps, so a caller never relies on it (docs/cleanup.md)."""
    body = {
        "token": refresh_token,
        "token_type_hint": "refresh_token",
        "client_id": settings.oauth_client_id,
        "client_secret": settings.oauth_client_secret,
    }
    try:
        response = _send(http, "POST", settings.oauth_revoke_url, json=body)
    except TransientError:
        return False
    log.info("oauth revoke endpoint: %s", response.status_code)
    return response.status_code == 200


def accessible_resources(
    settings: Settings, http: requests.Session, access_token: str
) -> list[Site]:
    """The sites this access token reaches."""
    response = _send(
        http,
        "GET",
        settings.oauth_resources_url,
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
    )
    if response.status_code in (401, 403):
        raise AuthorizationError(
            "Atlassian did not accept the new access token", response.status_code
        )
    body = _json(response, "accessible-resources")
    if not isinstance(body, list):
        raise PermanentError("Atlassian's accessible-resources answer is not a list")
    sites = []
    for item in body:
        if not isinstance(item, dict) or not item.get("id") or not item.get("url"):
            continue
        sites.append(
            Site(
                cloud_id=str(item["id"]),
                url=str(item["url"]).rstrip("/"),
                name=str(item.get("name") or item["url"]),
                scopes=tuple(str(s) for s in item.get("scopes") or ()),
            )
        )
    return sites


def _token_request(settings: Settings, http: requests.Session, form: dict[str, str]) -> TokenSet:
    body = {
        **form,
        "client_id": settings.oauth_client_id,
        "client_secret": settings.oauth_client_secret,
    }
    response = _send(http, "POST", settings.oauth_token_url, json=body)
    payload = _json(response, "the token endpoint")
    error = payload.get("error") if isinstance(payload, dict) else None
    if response.status_code != 200 or error:
        log.info("oauth token endpoint: %s %s", response.status_code, error or "")
        if error == "invalid_grant":
            raise GrantRefused("Atlassian no longer accepts the grant", response.status_code)
        if response.status_code == 401 or error == "access_denied":
            raise ClientRefused(
                "Atlassian refused Tandem's OAuth client credentials "
                "(check OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET)",
                response.status_code,
            )
        raise PermanentError(
            f"Atlassian's token endpoint refused the request ({response.status_code} {error})",
            response.status_code,
        )
    return _token_set(payload)


def _token_set(payload: Any) -> TokenSet:
    if not isinstance(payload, dict) or not payload.get("access_token"):
        raise PermanentError("Atlassian's token answer has no access token")
    if not payload.get("refresh_token"):
        raise PermanentError(
            "Atlassian granted no refresh token (offline_access was not granted), "
            "so Tandem could not keep the site connected"
        )
    try:
        lifetime = float(payload.get("expires_in", 3600))
    except (TypeError, ValueError):
        lifetime = 3600.0
    return TokenSet(
        access_token=str(payload["access_token"]),
        refresh_token=str(payload["refresh_token"]),
        expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
        scopes=tuple(str(payload.get("scope") or "").split()),
    )


def _send(http: requests.Session, method: str, url: str, **options: Any) -> requests.Response:
    try:
        response = http.request(method, url, timeout=TIMEOUT, allow_redirects=False, **options)
    except (requests.ConnectionError, requests.Timeout) as error:
        log.info("oauth %s: %s", url, type(error).__name__)
        raise TransientError("Atlassian's OAuth service could not be reached") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientError(
            f"Atlassian's OAuth service answered {response.status_code}", response.status_code
        )
    return response


def _json(response: requests.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise PermanentError(
            f"{what} answered {response.status_code} without JSON", response.status_code
        ) from None
