"""The Sandbox: its settings, state, installer, OAuth server, dynamic webhooks, faults,
counters, personal-data desk and webhook dispatcher, wired together."""

from __future__ import annotations

from sandbox import keyserver
from sandbox.config import SandboxConfig
from sandbox.counters import Counters
from sandbox.dynhooks import DynamicWebhooks
from sandbox.faults import FaultInjector
from sandbox.forge import ForgePlatform
from sandbox.installer import Installer
from sandbox.keyserver import SigningKey
from sandbox.oauth import OAuthServer
from sandbox.privacy import PrivacyDesk
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
        self.oauth = OAuthServer(self.state, config)
        self.dynhooks = DynamicWebhooks(self.state, config.webhook_lifetime)
        self.faults = FaultInjector()
        self.counters = Counters()
        self.privacy = PrivacyDesk(self.state)
        self.dispatcher = Dispatcher(
            self.state, config.retry_delays, config.delivery_timeout, config.delivery_workers
        )
        self.forge = ForgePlatform(
            self.state, config.seed, config.forge_token_lifetime, config.http_timeout
        )
        self.dispatcher.extra_targets = lambda event: [
            *self.dynhooks.targets(event),
            *self.forge.targets(event),
        ]
        self.dispatcher.forge_shot = self.forge.shot
        self.dispatcher.oauth_secrets = self._oauth_secret

    def _oauth_secret(self, client_id: str, account_id: str, site: str) -> tuple[str, str] | None:
        """The client secret and site cloudId while a live grant lets the app hear the site."""
        client = self.oauth.client(client_id)
        if client is None or self.oauth.active_grant(client_id, account_id, site) is None:
            return None
        with self.state.lock:
            return client.client_secret, self.state.sites[site].cloud_id

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
