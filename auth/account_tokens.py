"""Random single-use tokens for invitations and password resets.

A token reads ``<tenant id hex>.<32 random bytes, url-safe base64>``: the tenant part says
which workspace to open (the link arrives before the tenant is known), the random part
is the secret. Only ``SHA-256(secret)`` is stored; a look-up compares hashes in the
database, so no timing of a string comparison can leak the secret.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass

_SHAPE = re.compile(r"([0-9a-f]{32})\.([A-Za-z0-9_-]{43})")


class BadToken(ValueError):
    """Not a token we issued (malformed); the message is safe to show."""


@dataclass(frozen=True)
class ParsedToken:
    tenant_id: uuid.UUID
    digest: bytes

    def __repr__(self) -> str:  # the digest is as good as the token for a look-up
        return f"ParsedToken(tenant_id={self.tenant_id})"


def new_token(tenant_id: uuid.UUID) -> tuple[str, bytes]:
    """(the token to send, the digest to store)."""
    secret = secrets.token_urlsafe(32)
    return f"{tenant_id.hex}.{secret}", digest_of(secret)


def digest_of(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse_token(raw: object) -> ParsedToken:
    """The workspace and digest of a token, or BadToken."""
    match = _SHAPE.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if match is None:
        raise BadToken("the link is malformed: copy the whole link from the email")
    return ParsedToken(uuid.UUID(hex=match.group(1)), digest_of(match.group(2)))
