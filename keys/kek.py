"""Key-encryption-key (KEK) providers behind one small interface.

A provider wraps and unwraps data keys. The local ones (keyring file, environment
variable) hold AES-256 keys and wrap with the same AES-GCM primitive; Vault transit
or AWS KMS fit the same three methods.
"""

from __future__ import annotations

import base64
import binascii
from typing import Protocol

from config import ConfigError, Settings
from keys import aead
from keys.keyring_file import read_keyring


class UnknownKek(Exception):
    """A data key was wrapped by a KEK this provider does not hold."""


class KekProvider(Protocol):
    """What the rest of Tandem needs from a KEK store."""

    def current_id(self) -> str:
        """The id of the KEK new data keys are wrapped with."""
        ...

    def wrap(self, dek: bytes, aad: bytes) -> tuple[str, bytes]:
        """Wrap a data key under the current KEK; return (kek id, wrapped bytes)."""
        ...

    def unwrap(self, kek_id: str, wrapped: bytes, aad: bytes) -> bytes:
        """Unwrap a data key wrapped by ``kek_id``."""
        ...


class LocalKeks:
    """KEKs held in this process (from a keyring file or an environment variable)."""

    def __init__(self, current: str, keys: dict[str, bytes]) -> None:
        if current not in keys:
            raise ConfigError(f"current KEK {current!r} is not among the configured keys")
        self._current = current
        self._keys = dict(keys)

    def current_id(self) -> str:
        return self._current

    def wrap(self, dek: bytes, aad: bytes) -> tuple[str, bytes]:
        nonce = aead.new_nonce()
        return self._current, nonce + aead.encrypt(self._keys[self._current], nonce, dek, aad)

    def unwrap(self, kek_id: str, wrapped: bytes, aad: bytes) -> bytes:
        key = self._keys.get(kek_id)
        if key is None:
            raise UnknownKek(f"KEK {kek_id!r} is not configured")
        wrapped = bytes(wrapped)
        return aead.decrypt(key, wrapped[: aead.NONCE_BYTES], wrapped[aead.NONCE_BYTES :], aad)

    def __repr__(self) -> str:
        return f"LocalKeks(current={self._current!r}, ids={sorted(self._keys)!r})"


def parse_env_keys(raw: str, current: str = "") -> LocalKeks:
    """Parse ``TANDEM_KEK_KEYS`` (``id=base64,id=base64``); the first is current unless named."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        kid, sep, encoded = item.partition("=")
        if not sep or not kid:
            raise ConfigError("TANDEM_KEK_KEYS entries must look like id=base64key")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise ConfigError(f"TANDEM_KEK_KEYS: key {kid!r} is not valid base64") from None
        if len(key) != aead.KEY_BYTES:
            raise ConfigError(f"TANDEM_KEK_KEYS: key {kid!r} must be 32 bytes")
        keys[kid] = key
    if not keys:
        raise ConfigError("TANDEM_KEK_KEYS holds no keys")
    return LocalKeks(current or next(iter(keys)), keys)


def provider_from_settings(settings: Settings) -> KekProvider:
    """Build the configured KEK provider, or raise ConfigError saying what to set."""
    if settings.kek_keys:
        return parse_env_keys(settings.kek_keys, settings.kek_current)
    if settings.kek_keyring_path:
        current, keys = read_keyring(settings.kek_keyring_path)
        return LocalKeks(settings.kek_current or current, keys)
    raise ConfigError(
        "no key-encryption key configured: set TANDEM_KEK_KEYRING or TANDEM_KEK_KEYS "
        "(`make run` creates a development keyring under .run/)"
    )
