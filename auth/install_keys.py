"""Public keys for signed installs, fetched by ``kid`` from Atlassian's key server."""

from __future__ import annotations

import re

import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from auth.errors import ConnectAuthError
from auth.key_cache import KeyCache, checked_rsa_key

# A plain identifier: no slashes, dots, schemes, control characters; bounded length.
KID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")


def check_kid(kid: object) -> str:
    """Return ``kid`` if it is a plain identifier, else refuse before any fetch."""
    if not isinstance(kid, str) or not KID_PATTERN.fullmatch(kid):
        raise ConnectAuthError("the token's key id (kid) is not a plain identifier")
    return kid


class InstallKeys:
    """Fetches and caches install public keys; unknown kids are remembered briefly."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 3.0,
        ttl_seconds: float = 3600,
        miss_ttl_seconds: float = 30,
        max_entries: int = 256,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._ttl = ttl_seconds
        self._miss_ttl = miss_ttl_seconds
        self._cache = KeyCache(max_entries)
        self._http = requests.Session()

    def get(self, kid: str) -> RSAPublicKey:
        """The RSA public key for ``kid``; raises ConnectAuthError if it can't be had."""
        check_kid(kid)
        cached, fresh, found = self._cache.lookup(kid)
        if cached and fresh:
            if found is None:
                raise ConnectAuthError("the token's signing key is unknown")
            return found
        key = self._fetch(kid)
        self._cache.remember(kid, key, self._ttl if key is not None else self._miss_ttl)
        if key is None:
            raise ConnectAuthError("the token's signing key is unknown")
        return key

    def _fetch(self, kid: str) -> RSAPublicKey | None:
        try:
            response = self._http.get(f"{self._base_url}/{kid}", timeout=self._timeout)
        except requests.RequestException:
            raise ConnectAuthError("the signing key could not be fetched") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ConnectAuthError("the signing key could not be fetched")
        try:
            key = load_pem_public_key(response.content)
        except ValueError:
            raise ConnectAuthError("the key server returned something that is not a key") from None
        return checked_rsa_key(key)
