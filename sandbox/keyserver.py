"""The install-key server: RSA key pairs with plain `kid`s, public keys served as PEM at
`/connect-keys/{kid}` like `https://connect-install-keys.atlassian.com/{kid}`."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Blueprint, Response, current_app

from sandbox.context import sandbox_of
from sandbox.state import SandboxState

KID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(frozen=True)
class SigningKey:
    """One RSA-2048 key pair and its key id."""

    kid: str
    private_key: Any
    public_pem: str


def generate_key() -> SigningKey:
    """A fresh key pair named `sandbox-<6 hex>`."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return SigningKey(f"sandbox-{secrets.token_hex(3)}", private_key, public_pem)


def rotate(state: SandboxState, key: SigningKey | None = None) -> str:
    """Make a new (or the given) key current; older keys stay served. Returns its kid."""
    key = key or generate_key()
    with state.lock:
        state.signing_keys[key.kid] = key
        state.current_kid = key.kid
    return key.kid


def current_key(state: SandboxState) -> SigningKey:
    """The key that signs installs now."""
    with state.lock:
        return state.signing_keys[state.current_kid]


def public_pem(state: SandboxState, kid: str) -> str | None:
    """The PEM public key for `kid`, or None."""
    with state.lock:
        key = state.signing_keys.get(kid)
        return key.public_pem if key else None


keys = Blueprint("sandbox_keys", __name__)


@keys.get("/connect-keys/<kid>")
def serve_key(kid: str) -> Response:
    """The public key as text/plain, or 404 for a kid never issued."""
    pem = public_pem(sandbox_of(current_app).state, kid) if KID_PATTERN.match(kid) else None
    if pem is None:
        return Response("Not Found\n", status=404, mimetype="text/plain")
    return Response(pem, mimetype="text/plain")
