"""Make Connect JWTs the way Atlassian does (and the ways attackers would)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from atlassian_jwt.url_utils import hash_url
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass
class KeyServer:
    """A stand-in for connect-install-keys.atlassian.com: PEM public keys by kid."""

    keys: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def app(self) -> Flask:
        app = Flask("keyserver")

        @app.get("/<path:kid>")
        def key(kid: str) -> Response:
            self.requests.append(kid)
            pem = self.keys.get(kid)
            if pem is None:
                return Response("not found", status=404)
            return Response(pem, mimetype="text/plain")

        return app


def claims(iss: str, method: str, path: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": iss, "iat": now, "exp": now + 180, "qsh": hash_url(method, path)}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def install_token(
    key: rsa.RSAPrivateKey, kid: str, client_key: str, audience: str, path: str, **overrides: Any
) -> str:
    body = claims(client_key, "POST", path, **{"aud": audience, "sub": "sub-1", **overrides})
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def secret_token(secret: str, client_key: str, method: str, path: str, **overrides: Any) -> str:
    return jwt.encode(claims(client_key, method, path, **overrides), secret, algorithm="HS256")


def hmac_token(payload: dict[str, Any], secret: bytes, headers: dict[str, Any]) -> str:
    """An HS256 token built by hand (PyJWT refuses PEM keys as HMAC secrets)."""

    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    header = {"alg": "HS256", "typ": "JWT", **headers}
    signing_input = b64(json.dumps(header).encode()) + b"." + b64(json.dumps(payload).encode())
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + b64(signature)).decode()


def unsigned_token(payload: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
    """An ``alg: none`` token."""
    return jwt.encode(payload, None, algorithm="none", headers=headers)
