"""Signed download links for export archives: ``TANDEM_SECRET_KEY``, salt
``tandem-export``, valid 24 hours, naming the tenant and the file."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from compliance.export_files import EXPORT_LIFETIME_SECONDS

LINK_SALT = "tandem-export"


class LinkExpired(ValueError):
    """The link was genuine but is older than its lifetime."""


class LinkInvalid(ValueError):
    """The link was not issued by Tandem, or is malformed."""


@dataclass(frozen=True)
class DownloadLink:
    """What a verified link names."""

    tenant_id: uuid.UUID
    name: str


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    if not secret_key:
        raise LinkInvalid("download links need TANDEM_SECRET_KEY")
    return URLSafeTimedSerializer(secret_key, salt=LINK_SALT)


def make_link_token(secret_key: str, tenant_id: uuid.UUID, name: str) -> str:
    """A signed, timestamped token for one tenant's archive."""
    return _serializer(secret_key).dumps({"t": str(tenant_id), "f": name})


def read_link_token(
    secret_key: str, token: str, max_age: int = EXPORT_LIFETIME_SECONDS
) -> DownloadLink:
    """Verify a token's signature and age; raise LinkExpired or LinkInvalid."""
    if not token or len(token) > 1024:
        raise LinkInvalid("the download link is missing or too long")
    try:
        payload = _serializer(secret_key).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkExpired("the download link has expired; request a new export") from None
    except BadSignature:
        raise LinkInvalid("the download link was not issued by Tandem") from None
    try:
        return DownloadLink(uuid.UUID(payload["t"]), str(payload["f"]))
    except (KeyError, TypeError, ValueError):
        raise LinkInvalid("the download link is malformed") from None
