"""Sandbox settings, shared by the command line, `create_sandbox_app` and the test helper."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

DEFAULT_RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
LOOPBACK_NAMES = frozenset({"localhost"})


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
