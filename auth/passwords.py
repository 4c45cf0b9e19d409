"""Password hashing with argon2id: hash, verify, re-hash when the parameters change.

Profiles (``PASSWORD_HASH_PROFILE``):

- ``rfc9106-low-memory`` (default): RFC 9106's second recommended option, argon2id,
  t=3, m=64 MiB, p=4, 16-byte salt, 32-byte tag.
- ``owasp``: OWASP's minimum for argon2id, t=2, m=19 MiB, p=1 (for small machines).
- ``test``: t=1, m=8 MiB, p=1 — fast enough for a test suite; refused in production.

A stored hash made with other parameters still verifies; ``verify`` then says it needs
re-hashing, and the login stores a new hash made with the current profile.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

PROFILES = {
    "rfc9106-low-memory": RFC_9106_LOW_MEMORY,
    "owasp": dataclasses.replace(
        RFC_9106_LOW_MEMORY, time_cost=2, memory_cost=19456, parallelism=1
    ),
    "test": dataclasses.replace(RFC_9106_LOW_MEMORY, time_cost=1, memory_cost=8192, parallelism=1),
}
DEFAULT_PROFILE = "rfc9106-low-memory"
MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 takes any length; this bounds the work a request can ask for


class WeakPassword(ValueError):
    """The new password is refused; the message says why in plain words."""


@dataclass
class Passwords:
    """The argon2id hasher of one profile."""

    profile: str = DEFAULT_PROFILE

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown password hash profile {self.profile!r}")
        parameters = PROFILES[self.profile]
        assert parameters.type is Type.ID
        self.hasher = PasswordHasher.from_parameters(parameters)

    @cached_property
    def dummy_hash(self) -> str:
        """A hash of a random password, verified when the account is unknown, so an
        unknown address costs the same argon2 work as a known one."""
        return self.hasher.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        """The encoded argon2id hash (``$argon2id$v=19$m=…,t=…,p=…$salt$tag``)."""
        return self.hasher.hash(password)

    def verify(self, encoded: str | None, password: str) -> tuple[bool, bool]:
        """(matches, needs re-hash). Always runs one argon2 verification, against the
        dummy hash when ``encoded`` is None; an oversized password is checked against the
        dummy (and never matches), so its cost stays bounded."""
        candidate = encoded if encoded is not None and len(password) <= MAX_LENGTH else None
        try:
            self.hasher.verify(candidate or self.dummy_hash, password[:MAX_LENGTH])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, False
        if candidate is None:
            return False, False
        return True, self.hasher.check_needs_rehash(candidate)


def check_new_password(password: object, email: str = "") -> str:
    """A new password, or WeakPassword saying what is wrong with it."""
    if not isinstance(password, str):
        raise WeakPassword("the password must be a string")
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password must be at most {MAX_LENGTH} characters long")
    if email and password.strip().lower() == email.strip().lower():
        raise WeakPassword("the password must not be the email address")
    if len(set(password)) < 4:
        raise WeakPassword("the password must not repeat so few characters")
    return password
