"""Public keys by ``kid``, cached for a while: shared by the Connect install-key server
client and the Forge JWKS client, so both bound their memory and refuse weak keys alike."""

from __future__ import annotations

import threading
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from auth.errors import ConnectAuthError

MIN_RSA_BITS = 2048


def checked_rsa_key(key: Any) -> RSAPublicKey:
    """``key`` if it is an RSA public key of at least 2048 bits; refuse anything else."""
    if not isinstance(key, RSAPublicKey) or key.key_size < MIN_RSA_BITS:
        raise ConnectAuthError("the signing key is not an RSA key of at least 2048 bits")
    return key


class KeyCache:
    """``kid`` -> key (or None: known to be missing) with an expiry each; bounded in size.

    ``lookup`` tells apart "not cached", "cached and fresh" and "cached but stale", so a
    caller may refresh, and still use a stale key when its key server is unreachable."""

    def __init__(self, max_entries: int = 256) -> None:
        self._max = max_entries
        self._entries: dict[str, tuple[float, RSAPublicKey | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, kid: str) -> tuple[bool, bool, RSAPublicKey | None]:
        """(cached, fresh, key): the key is None for a kid remembered as missing."""
        with self._lock:
            entry = self._entries.get(kid)
        if entry is None:
            return False, False, None
        return True, entry[0] > time.monotonic(), entry[1]

    def remember(self, kid: str, key: RSAPublicKey | None, ttl_seconds: float) -> None:
        """Keep ``key`` (None: the kid is missing) for ``ttl_seconds``."""
        with self._lock:
            if kid not in self._entries and len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[kid] = (time.monotonic() + ttl_seconds, key)

    def replace(self, keys: dict[str, RSAPublicKey], ttl_seconds: float) -> None:
        """Hold exactly ``keys`` (a whole key set fetched at once), each for the TTL."""
        until = time.monotonic() + ttl_seconds
        with self._lock:
            self._entries = {kid: (until, key) for kid, key in list(keys.items())[: self._max]}
