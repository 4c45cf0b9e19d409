"""Verify the Connect JWT an app puts on its REST calls:
`Authorization: JWT <HS256 token>`, iss = app key, iat/exp, qsh over the request."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import jwt
from atlassian_jwt.url_utils import hash_url


class JwtRejected(Exception):
    """The request's token is missing or not acceptable."""


def verify_app_token(
    authorization: str | None,
    method: str,
    relative_url: str,
    secret_for: Callable[[str], str | None],
    leeway: int = 30,
) -> dict[str, Any]:
    """The verified claims; JwtRejected saying why otherwise.

    `relative_url` is the request's path and query relative to the site's base URL;
    `secret_for(iss)` gives the sharedSecret of the installed app with that key, or None.
    """
    if not authorization or not authorization.startswith("JWT "):
        raise JwtRejected("Authorization: JWT <token> is required.")
    token = authorization[4:].strip()
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise JwtRejected("The JWT is malformed.") from None
    issuer = unverified.get("iss")
    secret = secret_for(issuer) if isinstance(issuer, str) else None
    if secret is None:
        raise JwtRejected("The JWT issuer is not an installed app.")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["iss", "iat", "exp", "qsh"], "verify_aud": False},
            leeway=leeway,
        )
    except jwt.PyJWTError as exc:
        raise JwtRejected(f"The JWT is not valid: {exc}.") from None
    if not hmac.compare_digest(str(claims["qsh"]), hash_url(method, relative_url)):
        raise JwtRejected("The JWT query string hash does not match the request.")
    return claims
