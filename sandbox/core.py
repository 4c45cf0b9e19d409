"""The Sandbox: its settings, state, installer and webhook dispatcher, wired together."""

from __future__ import annotations

from sandbox import keyserver
from sandbox.config import SandboxConfig
from sandbox.installer import Installer
from sandbox.keyserver import SigningKey
from sandbox.seed import build_site
from sandbox.state import SandboxState
from sandbox.webhooks import Dispatcher


class Sandbox:
    """One running sandbox. `start()` starts webhook delivery; `close()` stops it."""

    def __init__(self, config: SandboxConfig, first_key: SigningKey | None = None) -> None:
        self.config = config
        sites = {name: build_site(name, config.seed) for name in config.sites}
        self.state = SandboxState(sites, config.public_url or "")
        keyserver.rotate(self.state, first_key)
        self.installer = Installer(self.state, config.seed, config.http_timeout)
        self.dispatcher = Dispatcher(
            self.state, config.retry_delays, config.delivery_timeout, config.delivery_workers
        )

    def set_public_url(self, url: str) -> None:
        """Fix the sandbox's own base URL once the server knows its port."""
        with self.state.lock:
            self.state.public_url = url.rstrip("/")

    @property
    def public_url(self) -> str:
        return self.state.public_url

    def start(self) -> None:
        self.dispatcher.start()

    def close(self) -> None:
        self.dispatcher.close()
