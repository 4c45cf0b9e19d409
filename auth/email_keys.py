"""Email addresses of accounts: normalised, validated, and keyed for the directory.

The directory holds ``HMAC-SHA256(k, normalised address)`` (hex), never the address, so a
copy of the directory does not tell who has an account (the addresses are guessable, a
plain hash would not hide them). ``k`` is derived from ``TANDEM_SECRET_KEY`` under a fixed
label; development and tests without a secret key use a fixed development key
(production requires the secret key). Changing ``TANDEM_SECRET_KEY`` therefore makes
existing accounts unfindable until their directory entries are re-keyed.
"""

from __future__ import annotations

import hashlib
import hmac
import re

MAX_EMAIL = 254
_SHAPE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,252}\.[^@\s.]{2,63}")
_LABEL = b"tandem-account-email-v1"
_DEVELOPMENT_KEY = b"tandem-development-only-email-key"


class InvalidEmail(ValueError):
    """Not an email address we accept; the message says why."""


def normalise_email(raw: object) -> str:
    """Trimmed and lower-cased; InvalidEmail if it is not an address."""
    if not isinstance(raw, str):
        raise InvalidEmail("the email address must be a string")
    email = raw.strip().lower()
    if len(email) > MAX_EMAIL or not _SHAPE.fullmatch(email):
        raise InvalidEmail("that is not an email address")
    return email


def email_key(secret_key: str, email: str) -> str:
    """The directory key of a normalised address (64 hex digits)."""
    base = secret_key.encode() if secret_key else _DEVELOPMENT_KEY
    key = hmac.new(base, _LABEL, hashlib.sha256).digest()
    return hmac.new(key, email.encode(), hashlib.sha256).hexdigest()


def loose_key(secret_key: str, raw: object) -> str:
    """The key of whatever was typed (rate limits key on it even when it is not an
    address, so malformed names cannot dodge the per-account limit)."""
    text = raw.strip().lower() if isinstance(raw, str) else ""
    return email_key(secret_key, text[: MAX_EMAIL + 1])
