"""Start a sandbox in this process for tests: `with running_sandbox() as sb: ...`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.core import Sandbox
from sandbox.keyserver import SigningKey, generate_key
from sandbox.server import SandboxServer
from sandbox.state import SandboxState

FAST_RETRY_DELAYS = (0.05, 0.05, 0.05, 0.05, 0.05)
_shared_key: list[SigningKey] = []
_key_lock = threading.Lock()


def _test_key() -> SigningKey:
    """One RSA key for every test sandbox in this process (key generation is slow)."""
    with _key_lock:
        if not _shared_key:
            _shared_key.append(generate_key())
        return _shared_key[0]


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox serving on `url`; `state` is its live in-memory state."""

    url: str
    sandbox: Sandbox

    @property
    def state(self) -> SandboxState:
        return self.sandbox.state

    def site_url(self, site: str) -> str:
        """The site's base URL, e.g. `http://127.0.0.1:PORT/jira/alpha`."""
        return self.state.site_url(site)

    def shared_secret(self, site: str, app_key: str) -> str:
        """The installation's sharedSecret (in-process only; never served over HTTP)."""
        inst = self.state.installation(site, app_key)
        if inst is None:
            raise KeyError(f"{app_key} is not installed on {site}")
        return inst.shared_secret

    def install(self, site: str, descriptor_url: str) -> dict[str, Any]:
        """Install an app as `POST /sandbox/install` does; returns the same result."""
        return self.sandbox.installer.install(site, descriptor_url)

    def wait_for_deliveries(self, timeout: float = 10.0) -> dict[str, Any]:
        """Block until no webhook is pending, as `POST /sandbox/deliveries/wait` does."""
        return self.sandbox.dispatcher.wait_idle(timeout)


@contextmanager
def running_sandbox(
    sites: tuple[str, ...] = ("alpha", "beta"),
    retry_delays: tuple[float, ...] = FAST_RETRY_DELAYS,
    delivery_timeout: float = 5.0,
    seed: str = "sandbox",
) -> Iterator[RunningSandbox]:
    """A sandbox on a free loopback port for the duration of the block."""
    config = SandboxConfig(
        sites=sites,
        host="127.0.0.1",
        port=0,
        retry_delays=retry_delays,
        delivery_timeout=delivery_timeout,
        seed=seed,
    )
    server = SandboxServer(config, _test_key())
    server.start()
    try:
        yield RunningSandbox(server.url, server.sandbox)
    finally:
        server.shutdown()
