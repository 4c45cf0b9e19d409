"""The OAuth ``state``: signed with ``TANDEM_SECRET_KEY``, valid for 10 minutes, used once.

It carries who started the consent (tenant and installation) and a random nonce, so a
callback can only connect sites to the workspace whose admin opened the consent.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

STATE_SALT = "tandem.oauth-state.v1"
STATE_MAX_AGE_SECONDS = 600


class InvalidState(ValueError):
    """The state is forged, malformed or expired; the message says which, in plain words."""


@dataclass(frozen=True)
class ConsentState:
    """What a verified state says."""

    tenant_id: uuid.UUID
    installation_id: uuid.UUID
    nonce: str


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=STATE_SALT)


def make_state(secret_key: str, tenant_id: uuid.UUID, installation_id: uuid.UUID) -> str:
    """A signed, timestamped state for a consent started by this tenant's installation."""
    payload = {"t": str(tenant_id), "i": str(installation_id), "n": secrets.token_urlsafe(16)}
    return _serializer(secret_key).dumps(payload)


def read_state(secret_key: str, state: str, max_age: int = STATE_MAX_AGE_SECONDS) -> ConsentState:
    """Verify a state's signature and age; raise InvalidState otherwise."""
    if not state or len(state) > 1024:
        raise InvalidState("the state parameter is missing or too long")
    try:
        payload = _serializer(secret_key).loads(state, max_age=max_age)
    except SignatureExpired:
        raise InvalidState(
            "the consent took longer than 10 minutes; start again from Tandem's admin page"
        ) from None
    except BadSignature:
        raise InvalidState("the state parameter was not issued by Tandem") from None
    try:
        return ConsentState(uuid.UUID(payload["t"]), uuid.UUID(payload["i"]), str(payload["n"]))
    except (KeyError, TypeError, ValueError):
        raise InvalidState("the state parameter is malformed") from None
