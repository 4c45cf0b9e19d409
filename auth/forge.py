"""Forge Remote: verify the Forge Invocation Token (FIT) on ``Authorization: Bearer``.

RS256 only, the key found by ``kid`` in the Forge JWKS; ``iss`` must be
``forge/invocation-token`` and ``aud`` our app id (``ari:cloud:ecosystem::app/<uuid>``);
``exp`` and ``iat`` are required and ``nbf`` is checked when present, with a small
leeway. The claims Tandem relies on (``app.installationId``, ``app.apiBaseUrl``,
``context.cloudId``) must be present and well-formed; which tenant the installation
belongs to is decided afterwards, through the tenant directory.

The app system token (``x-forge-oauth-system``) is a JWT too, but it is Jira's to check:
Tandem only reads its ``exp`` to know how long to use it.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from auth.connect import decode_claims, unverified_header
from auth.errors import ConnectAuthError
from auth.forge_keys import ForgeKeys, check_forge_kid
from auth.oauth_webhook import bearer_token

ISSUER = "forge/invocation-token"
APP_ID = re.compile(r"ari:cloud:ecosystem::app/[0-9a-fA-F-]{36}")
INSTALLATION_ID = re.compile(r"ari:cloud:ecosystem::installation/[0-9a-fA-F-]{36}")
CLOUD_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
MAX_SYSTEM_TOKEN = 8192
# Forge promises a system token lives at least 55 minutes; without a readable exp we
# assume no more than that, and never more than a day whatever it says.
ASSUMED_LIFETIME = timedelta(minutes=55)
LONGEST_LIFETIME = timedelta(days=1)


@dataclass(frozen=True)
class Invocation:
    """What a verified FIT says about its call."""

    app_id: str
    installation_id: str  # ari:cloud:ecosystem::installation/<uuid>
    cloud_id: str
    api_base_url: str
    module_key: str | None
    principal: str | None
    claims: dict[str, Any]

    def __repr__(self) -> str:
        return f"Invocation(installation_id={self.installation_id!r}, cloud_id={self.cloud_id!r})"


def verify_invocation(
    authorization: str | None, keys: ForgeKeys, app_id: str, leeway: int = 10
) -> Invocation:
    """Verify a FIT and read its claims; ConnectAuthError (reason in plain words) else."""
    token = bearer_token(authorization)
    header = unverified_header(token)
    if header.get("alg") != "RS256":
        raise ConnectAuthError("only RS256 tokens are accepted here")
    key = keys.get(check_forge_kid(header.get("kid")))
    claims = decode_claims(
        token, key, "RS256", leeway, ["exp", "iat", "iss", "aud"], audience=app_id
    )
    if claims["iss"] != ISSUER:
        raise ConnectAuthError("the token's issuer is not Forge")
    return _invocation(claims, app_id)


def _invocation(claims: dict[str, Any], app_id: str) -> Invocation:
    app = claims.get("app") if isinstance(claims.get("app"), dict) else {}
    context = claims.get("context") if isinstance(claims.get("context"), dict) else {}
    installation = app.get("installationId")
    if not isinstance(installation, str) or not INSTALLATION_ID.fullmatch(installation):
        raise ConnectAuthError("the token does not name its installation (app.installationId)")
    if app.get("id", app_id) != app_id:
        raise ConnectAuthError("the token's app is not this app")
    cloud_id = context.get("cloudId")
    if not isinstance(cloud_id, str) or not CLOUD_ID.fullmatch(cloud_id):
        raise ConnectAuthError("the token does not name its site (context.cloudId)")
    api_base = app.get("apiBaseUrl")
    if (
        not isinstance(api_base, str)
        or len(api_base) > 500
        or not api_base.startswith(("https://", "http://"))
        or api_base.rstrip("/").rsplit("/", 1)[-1] != cloud_id
    ):
        raise ConnectAuthError("the token's app.apiBaseUrl is not its site's API")
    module = app.get("module") if isinstance(app.get("module"), dict) else {}
    principal = claims.get("principal")
    return Invocation(
        app_id=app_id,
        installation_id=installation,
        cloud_id=cloud_id,
        api_base_url=api_base.rstrip("/"),
        module_key=module.get("key") if isinstance(module.get("key"), str) else None,
        principal=principal if isinstance(principal, str) else None,
        claims=claims,
    )


@dataclass(frozen=True)
class SystemToken:
    """The app system token of an invocation and when it expires."""

    token: str
    expires_at: datetime

    def __repr__(self) -> str:  # never print the token
        return f"SystemToken(expires_at={self.expires_at.isoformat()})"


def system_token_from(header: str | None, now: datetime | None = None) -> SystemToken | None:
    """The ``x-forge-oauth-system`` token (a ``Bearer`` prefix is tolerated) and its
    expiry read from its own ``exp``; None when absent, unusable or already expired."""
    if not header:
        return None
    token = header.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token or len(token) > MAX_SYSTEM_TOKEN or any(c.isspace() for c in token):
        return None
    now = now or datetime.now(UTC)
    expires = _unverified_exp(token)
    expires = now + ASSUMED_LIFETIME if expires is None else min(expires, now + LONGEST_LIFETIME)
    return SystemToken(token, expires) if expires > now else None


def _unverified_exp(token: str) -> datetime | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        exp = payload.get("exp") if isinstance(payload, dict) else None
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            return datetime.fromtimestamp(exp, UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None
