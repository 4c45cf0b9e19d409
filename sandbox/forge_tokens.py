"""The tokens of the sandbox's Forge platform.

- Forge Invocation Tokens (FIT): RS256, signed with the platform's own RSA key (``kid``
  ``forge/invocation-token/sandbox-<hex>``), served as a JWKS at
  ``/forge/.well-known/jwks.json``; ``iss`` = ``forge/invocation-token``, ``aud`` = the
  app id, ``iat``/``nbf``/``exp`` (25 s), ``app`` (id, installationId, apiBaseUrl,
  environment, module), ``context`` (cloudId, moduleKey) and ``principal`` for UI calls.
- App system tokens (``x-forge-oauth-system``): JWTs whose ``exp`` tells their expiry;
  the gateway accepts them for the installation's site with the app's scopes.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "forge/invocation-token"
FIT_LIFETIME = 25
_keys: list[ForgeKey] = []
_key_lock = threading.Lock()


@dataclass(frozen=True)
class ForgeKey:
    """One RSA-2048 key pair of the platform and its kid."""

    kid: str
    private_key: Any

    def jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": _b64(numbers.n),
            "e": _b64(numbers.e),
        }


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_forge_key() -> ForgeKey:
    """A fresh key pair named like Forge's (``forge/invocation-token/...``)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ForgeKey(f"forge/invocation-token/sandbox-{secrets.token_hex(4)}", key)


def shared_forge_key() -> ForgeKey:
    """One key per process for every sandbox (key generation is slow)."""
    with _key_lock:
        if not _keys:
            _keys.append(new_forge_key())
        return _keys[0]


def invocation_token(
    key: ForgeKey,
    app: dict[str, Any],
    context: dict[str, Any],
    principal: str | None = None,
    now: int | None = None,
) -> str:
    """A FIT for one invocation of ``app`` (the ``app`` claim) in ``context``."""
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "app": app,
        "context": context,
        "aud": app["id"],
        "iss": ISSUER,
        "iat": issued,
        "nbf": issued,
        "exp": issued + FIT_LIFETIME,
        "jti": secrets.token_hex(20),
    }
    if principal:
        claims["principal"] = principal
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


def system_token(secret: str, installation_id: str, account_id: str, expires_at: int) -> str:
    """An app system token: a JWT (signed with the platform's secret) Jira reads."""
    claims = {
        "iss": "forge/app-system-token",
        "sub": account_id,
        "aud": "api.atlassian.com",
        "installationId": installation_id,
        "iat": int(time.time()),
        "exp": expires_at,
        "jti": secrets.token_hex(12),
    }
    return jwt.encode(claims, secret, algorithm="HS256")
