"""Atlassian Connect JWT verification.

- Signed installs (``installed``/``uninstalled``): RS256 only, key fetched by ``kid``,
  ``aud`` = our base URL, ``iss`` = the body's clientKey, ``qsh`` must match.
- Everything else: HS256 with the installation's sharedSecret; ``qsh`` must match, or be
  the literal ``context-qsh`` on routes that serve iframes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jwt
from atlassian_jwt.url_utils import hash_url

from auth.errors import ConnectAuthError, SignatureMismatch
from auth.install_keys import InstallKeys, check_kid

MAX_TOKEN_LENGTH = 8192
CONTEXT_QSH = "context-qsh"
_REQUIRED = ["exp", "iat", "iss", "qsh"]


@dataclass(frozen=True)
class RequestTarget:
    """What a token's ``qsh`` is computed over: method, path relative to the app, raw query."""

    method: str
    path: str
    query: str = ""

    def query_string_hash(self) -> str:
        url = f"{self.path}?{self.query}" if self.query else self.path
        return hash_url(self.method, url)


def token_from(authorization: str | None, query_jwt: str | None = None) -> str:
    """The token from ``Authorization: JWT <token>`` (or the iframe's ``?jwt=``)."""
    token = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme != "JWT" or not value.strip():
            raise ConnectAuthError("the Authorization header must be 'JWT <token>'")
        token = value.strip()
    elif query_jwt:
        token = query_jwt
    if not token:
        raise ConnectAuthError("no JWT was sent")
    if len(token) > MAX_TOKEN_LENGTH:
        raise ConnectAuthError("the token is too long")
    return token


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, read without verifying, only to find the issuer's secret;
    PyJWT then verifies the whole token (decoding it twice with PyJWT costs a webhook
    about 0.1 ms more)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ConnectAuthError("the token is malformed")
    try:
        header, payload = (
            json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
            for part in parts[:2]
        )
    except ValueError:  # bad base64, bad UTF-8 or bad JSON
        raise ConnectAuthError("the token is malformed") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ConnectAuthError("the token is malformed")
    return header, payload


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, read without verifying (to choose the key and refuse other algs)."""
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise ConnectAuthError("the token is malformed") from None


def decode_claims(
    token: str,
    key: Any,
    algorithm: str,
    leeway: int,
    required: list[str],
    verify_aud: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """Verify ``token`` with exactly one algorithm and the ``required`` claims; any
    failure becomes a ConnectAuthError whose message names the reason in plain words."""
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            leeway=leeway,
            options={"require": required, "verify_iat": True, "verify_aud": verify_aud},
            **options,
        )
    except jwt.ExpiredSignatureError:
        raise ConnectAuthError("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise ConnectAuthError("the token was issued in the future") from None
    except jwt.MissingRequiredClaimError as error:
        raise ConnectAuthError(f"the token has no '{error.claim}' claim") from None
    except jwt.InvalidAudienceError:
        raise ConnectAuthError("the token's audience is not this app") from None
    except jwt.InvalidSignatureError:
        raise SignatureMismatch("the token's signature does not verify") from None
    except jwt.InvalidAlgorithmError:
        raise ConnectAuthError(f"only {algorithm} tokens are accepted here") from None
    except jwt.PyJWTError:
        raise ConnectAuthError("the token is malformed or its claims are invalid") from None


def _check_qsh(claims: dict[str, Any], target: RequestTarget, allow_context_qsh: bool) -> None:
    qsh = claims.get("qsh")
    if qsh == CONTEXT_QSH:
        if not allow_context_qsh:
            raise ConnectAuthError("a context-qsh token is not accepted on this route")
        return
    if qsh != target.query_string_hash():
        raise ConnectAuthError("the query string hash (qsh) does not match this request")


def verify_signed_install(
    token: str,
    target: RequestTarget,
    client_key: str,
    audiences: Iterable[str],
    keys: InstallKeys,
    leeway: int = 30,
) -> dict[str, Any]:
    """Verify an ``installed``/``uninstalled`` call's RS256 token; return its claims."""
    header = unverified_header(token)
    if header.get("alg") != "RS256":
        raise ConnectAuthError("install callbacks must be signed with RS256")
    key = keys.get(check_kid(header.get("kid")))
    claims = decode_claims(
        token, key, "RS256", leeway, [*_REQUIRED, "aud"], audience=list(audiences)
    )
    if claims["iss"] != client_key:
        raise ConnectAuthError("the token's issuer is not the installing clientKey")
    _check_qsh(claims, target, allow_context_qsh=False)
    return claims


def verify_shared_secret_token(
    token: str,
    target: RequestTarget,
    find_secret: Callable[[str], str | None],
    allow_context_qsh: bool = False,
    leeway: int = 30,
    audiences: Iterable[str] = (),
) -> dict[str, Any]:
    """Verify an HS256 token signed with the issuing installation's sharedSecret.

    ``aud`` is optional here; when present it must name the issuer itself (as
    atlassian-jwt writes it) or one of ``audiences``.
    """
    header, payload = _unverified_parts(token)
    if header.get("alg") != "HS256":
        raise ConnectAuthError("only HS256 tokens are accepted here")
    issuer = payload.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise ConnectAuthError("the token has no 'iss' claim")
    secret = find_secret(issuer)
    if secret is None:
        raise ConnectAuthError("the token's issuer is not an installation of this app")
    claims = decode_claims(token, secret, "HS256", leeway, _REQUIRED, verify_aud=False)
    _check_audience(claims, {issuer, *audiences})
    _check_qsh(claims, target, allow_context_qsh)
    return claims


def _check_audience(claims: dict[str, Any], allowed: set[str]) -> None:
    if "aud" not in claims:
        return
    audience = claims["aud"]
    values = [audience] if isinstance(audience, str) else audience
    if not isinstance(values, list) or not values or not set(values) <= allowed:
        raise ConnectAuthError("the token's audience is not this app")
