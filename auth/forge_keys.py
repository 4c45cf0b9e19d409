"""The Forge invocation-token signing keys, from a JWKS URL (by default Atlassian's
``https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json``), cached by ``kid``.

An unknown ``kid`` refetches the set, but at most once per ``refresh_seconds``: a flood of
tokens naming made-up kids costs one fetch, not one each. When the key server cannot be
reached, keys fetched earlier keep working (they rotate slowly)."""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from auth.errors import ConnectAuthError
from auth.key_cache import KeyCache, checked_rsa_key

log = logging.getLogger(__name__)
# Forge kids look like "forge/invocation-token/wf-<uuid>": a kid is only ever a key into
# the fetched set (never part of a URL), so slashes are fine; control characters are not.
FORGE_KID_PATTERN = re.compile(r"[A-Za-z0-9._:/-]{1,200}")
MAX_JWKS_BYTES = 256 * 1024


def check_forge_kid(kid: object) -> str:
    """Return ``kid`` if it is a bounded printable identifier, else refuse."""
    if not isinstance(kid, str) or not FORGE_KID_PATTERN.fullmatch(kid):
        raise ConnectAuthError("the token's key id (kid) is not a plain identifier")
    return kid


def parse_jwks(document: Any) -> dict[str, RSAPublicKey]:
    """The RSA signing keys of a JWKS document by kid (other keys are skipped)."""
    keys: dict[str, RSAPublicKey] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", "RS256") != "RS256":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not FORGE_KID_PATTERN.fullmatch(kid):
            continue
        try:
            keys[kid] = checked_rsa_key(RSAAlgorithm.from_jwk(entry))
        except (ValueError, KeyError, TypeError, ConnectAuthError):
            log.warning("forge jwks: skipped an unusable key")
    return keys


class ForgeKeys:
    """The Forge JWKS, fetched on demand and held for ``ttl_seconds``."""

    def __init__(
        self,
        jwks_url: str,
        timeout: float = 3.0,
        ttl_seconds: float = 3600,
        refresh_seconds: float = 30,
    ) -> None:
        self.jwks_url = jwks_url
        self._timeout = timeout
        self._ttl = ttl_seconds
        self._refresh = refresh_seconds
        self._cache = KeyCache()
        self._last_fetch = float("-inf")
        self._lock = threading.Lock()
        self._http = requests.Session()
        self.fetches = 0

    def get(self, kid: str) -> RSAPublicKey:
        """The key for ``kid``; ConnectAuthError if it is unknown or cannot be had."""
        check_forge_kid(kid)
        cached, fresh, key = self._cache.lookup(kid)
        if cached and fresh and key is not None:
            return key
        if self._refetch():
            cached, fresh, key = self._cache.lookup(kid)
        if key is None:
            raise ConnectAuthError("the token's signing key is unknown")
        return key

    def _refetch(self) -> bool:
        """Fetch the set unless that was done less than ``refresh_seconds`` ago."""
        with self._lock:
            now = time.monotonic()
            if now - self._last_fetch < self._refresh:
                return False
            self._last_fetch = now
            self.fetches += 1
        try:
            response = self._http.get(self.jwks_url, timeout=self._timeout)
            if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
                raise ValueError(f"status {response.status_code}")
            keys = parse_jwks(response.json())
        except (requests.RequestException, ValueError) as error:
            log.warning("forge jwks could not be fetched (%s): earlier keys stay", error)
            return False
        self._cache.replace(keys, self._ttl)
        return True
