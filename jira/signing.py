"""Request credentials: a Connect JWT per request, or an OAuth bearer token."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import jwt
from atlassian_jwt.url_utils import hash_url

if TYPE_CHECKING:
    import requests

CONNECT_TOKEN_SECONDS = 180


class Credentials(Protocol):
    """Where requests go and how each one is signed."""

    base_url: str

    def headers_for(self, method: str, path_and_query: str) -> dict[str, str]:
        """The auth headers for one request (path relative to ``base_url``)."""
        ...


@dataclass(frozen=True)
class ConnectCredentials:
    """The installed site: HS256 JWT per request, ``iss`` = our app key, ``qsh`` bound."""

    base_url: str
    app_key: str
    shared_secret: str

    def headers_for(self, method: str, path_and_query: str) -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": self.app_key,
            "iat": now,
            "exp": now + CONNECT_TOKEN_SECONDS,
            "qsh": hash_url(method, path_and_query),
        }
        return {"Authorization": f"JWT {jwt.encode(claims, self.shared_secret, 'HS256')}"}

    def __repr__(self) -> str:
        return f"ConnectCredentials(base_url={self.base_url!r}, app_key={self.app_key!r})"


@dataclass(frozen=True)
class BearerCredentials:
    """An OAuth-connected site: ``base_url`` is ``…/ex/jira/{cloudId}``; the token comes
    from a provider that refreshes it before it expires. ``renew`` is asked once after a
    401: True means fresh credentials are ready (send again); it may raise instead."""

    base_url: str
    access_token: Callable[[], str]
    renew: Callable[[requests.Response], bool] | None = None

    def headers_for(self, method: str, path_and_query: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token()}"}

    def __repr__(self) -> str:
        return f"BearerCredentials(base_url={self.base_url!r})"
