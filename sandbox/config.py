"""Sandbox settings, shared by the command line, `create_sandbox_app` and the test helper."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
LOOPBACK_NAMES = frozenset({"localhost"})
DAY = 86400.0


@dataclass(frozen=True)
class OAuthClientSpec:
    """An OAuth 2.0 (3LO) app registered at start, as in Atlassian's developer console."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    name: str = ""


@dataclass(frozen=True)
class SandboxConfig:
    """What one sandbox serves and how it delivers webhooks.

    `public_url` is the sandbox's own base URL (used in `self` links, site base URLs and
    lifecycle payloads); when it is None the server fills it in once it has bound its port.
    `seed` makes cloud ids, client keys and account ids deterministic, so a restarted
    sandbox looks like the same Jira sites to an app that kept its installations.
    """

    sites: tuple[str, ...] = ("alpha", "beta")
    host: str = "127.0.0.1"
    port: int = 9000
    public_url: str | None = None
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    delivery_timeout: float = 5.0
    delivery_workers: int = 8
    http_timeout: float = 10.0
    seed: str = "sandbox"
    token_leeway: int = 30
    oauth_clients: tuple[OAuthClientSpec, ...] = ()
    access_token_lifetime: float = 3600.0
    code_lifetime: float = 300.0
    refresh_token_idle_lifetime: float = 90 * DAY
    webhook_lifetime: float = 30 * DAY
    forge_token_lifetime: float = 3600.0  # Forge app system tokens (Forge: at least 55 min)

    def __post_init__(self) -> None:
        if not self.sites:
            raise ValueError("at least one site is needed")
        for name in self.sites:
            if not name.isascii() or not name.isalnum() or not name.islower() or len(name) < 3:
                raise ValueError(f"site name {name!r}: use 3+ lower-case letters or digits")
        if len(set(self.sites)) != len(self.sites):
            raise ValueError("site names must be unique")
        if any(delay < 0 for delay in self.retry_delays):
            raise ValueError("retry delays must not be negative")
        if not is_loopback(self.host):
            raise ValueError(f"host {self.host!r}: the sandbox binds to loopback only")
        lifetimes = (self.access_token_lifetime, self.code_lifetime, self.webhook_lifetime)
        if min(*lifetimes, self.forge_token_lifetime) <= 0:
            raise ValueError("token, code and webhook lifetimes must be positive")


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine can reach."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_delays(text: str) -> tuple[float, ...]:
    """`"1,2,4"` -> (1.0, 2.0, 4.0); an empty string means no retries."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    return tuple(float(part) for part in parts)


def parse_oauth_client(text: str) -> OAuthClientSpec:
    """`"id:secret:https://app/cb,https://app/cb2"` -> an OAuthClientSpec."""
    client_id, _, rest = text.partition(":")
    secret, _, uris = rest.partition(":")
    redirect_uris = tuple(uri.strip() for uri in uris.split(",") if uri.strip())
    if not client_id or not secret or not redirect_uris:
        raise ValueError(f"--oauth-client {text!r}: use id:secret:redirect_uri[,redirect_uri]")
    for uri in redirect_uris:
        if not uri.startswith(("http://", "https://")):
            raise ValueError(f"--oauth-client: redirect URI {uri!r} must be absolute")
    return OAuthClientSpec(client_id, secret, redirect_uris, client_id)
