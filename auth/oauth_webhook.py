"""Dynamic webhooks to an OAuth 2.0 (3LO) app carry ``Authorization: Bearer <JWT>``,
HS256-signed with the app's client secret. Only HS256 is accepted; ``exp`` and ``iat``
are required; ``aud``, when present, must be our client id; the token must name the site
(``context.cloudId``, or ``iss`` = ``jira:{cloudId}``)."""

from __future__ import annotations

from typing import Any

import jwt

from auth.connect import decode_claims
from auth.errors import ConnectAuthError

MAX_TOKEN_LENGTH = 8192
ISSUER_PREFIX = "jira:"


def bearer_token(authorization: str | None) -> str:
    """The token of ``Authorization: Bearer <token>``."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme != "Bearer" or not value.strip():
        raise ConnectAuthError("the Authorization header must be 'Bearer <token>'")
    if len(value) > MAX_TOKEN_LENGTH:
        raise ConnectAuthError("the token is too long")
    return value.strip()


def verify_webhook_token(
    authorization: str | None, client_secret: str, client_id: str, leeway: int = 30
) -> dict[str, Any]:
    """The verified claims; ConnectAuthError (reason in plain words) otherwise."""
    token = bearer_token(authorization)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise ConnectAuthError("the token is malformed") from None
    if header.get("alg") != "HS256":
        raise ConnectAuthError("only HS256 tokens are accepted here")
    claims = decode_claims(token, client_secret, "HS256", leeway, ["exp", "iat"], verify_aud=False)
    _check_audience(claims, client_id)
    return claims


def _check_audience(claims: dict[str, Any], client_id: str) -> None:
    if "aud" not in claims:
        return
    audience = claims["aud"]
    values = [audience] if isinstance(audience, str) else audience
    if not isinstance(values, list) or client_id not in values:
        raise ConnectAuthError("the token's audience is not this app")


def cloud_id_of(claims: dict[str, Any]) -> str:
    """The site the token speaks for."""
    context = claims.get("context")
    cloud_id = context.get("cloudId") if isinstance(context, dict) else None
    issuer = claims.get("iss")
    if not cloud_id and isinstance(issuer, str) and issuer.startswith(ISSUER_PREFIX):
        cloud_id = issuer[len(ISSUER_PREFIX) :]
    if not isinstance(cloud_id, str) or not cloud_id or len(cloud_id) > 200:
        raise ConnectAuthError("the token does not name its site (cloudId)")
    named = issuer[len(ISSUER_PREFIX) :] if isinstance(issuer, str) else None
    if isinstance(issuer, str) and issuer.startswith(ISSUER_PREFIX) and named != cloud_id:
        raise ConnectAuthError("the token's issuer and site disagree")
    return cloud_id
