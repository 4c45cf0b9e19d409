"""Start a sandbox in this process for tests: `with running_sandbox() as sb: ...`."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask import Flask

from sandbox.config import OAuthClientSpec, SandboxConfig
from sandbox.core import Sandbox
from sandbox.keyserver import SigningKey, generate_key
from sandbox.server import SandboxServer
from sandbox.state import SandboxState

FAST_RETRY_DELAYS = (0.05, 0.05, 0.05, 0.05, 0.05)
AUDIENCE = "api.atlassian.com"
TIMEOUT = 10
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
    """A sandbox serving on `url`; `state` is its live in-memory state, `app` its Flask app."""

    url: str
    sandbox: Sandbox
    app: Flask | None = None

    @property
    def state(self) -> SandboxState:
        return self.sandbox.state

    def oauth_settings(self, client_id: str, client_secret: str) -> dict[str, str]:
        """Tandem's OAuth settings (``Settings`` fields) pointed at this sandbox, which
        plays auth.atlassian.com and api.atlassian.com."""
        return {
            "oauth_client_id": client_id,
            "oauth_client_secret": client_secret,
            "oauth_authorize_url": f"{self.url}/authorize",
            "oauth_token_url": f"{self.url}/oauth/token",
            "oauth_resources_url": f"{self.url}/oauth/token/accessible-resources",
            "oauth_api_base": f"{self.url}/ex/jira",
            "oauth_revoke_url": f"{self.url}/oauth/revoke",
        }

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

    def cloud_id(self, site: str) -> str:
        return self.state.sites[site].cloud_id

    def gateway_url(self, site: str) -> str:
        """Where OAuth apps call the site: `{sandbox}/ex/jira/{cloudId}` (+ `/rest/api/3/...`)."""
        return f"{self.url}/ex/jira/{self.cloud_id(site)}"

    def control(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """Call `/sandbox{path}`; raises for an error status; the JSON answer (or None)."""
        response = requests.request(
            method, f"{self.url}/sandbox{path}", json=body, params=params, timeout=TIMEOUT
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} /sandbox{path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def register_oauth_client(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: Iterable[str],
        name: str = "",
        access_token_lifetime: float | None = None,
    ) -> dict[str, Any]:
        """Register an OAuth 2.0 (3LO) app, as `POST /sandbox/oauth/clients` does."""
        body: dict[str, Any] = {
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": list(redirect_uris),
            "name": name,
        }
        if access_token_lifetime is not None:
            body["access_token_lifetime"] = access_token_lifetime
        return self.control("POST", "/oauth/clients", body)

    def authorize(
        self,
        client_id: str,
        redirect_uri: str,
        scopes: Iterable[str],
        sites: Iterable[str] = ("beta",),
        account_id: str | None = None,
        state: str = "sandbox-state",
    ) -> str:
        """Run the consent screen without a browser (approve); returns the code."""
        form = {
            "audience": AUDIENCE,
            "client_id": client_id,
            "scope": " ".join(scopes),
            "redirect_uri": redirect_uri,
            "state": state,
            "response_type": "code",
            "prompt": "consent",
            "decision": "approve",
            "site": ",".join(sites),
        }
        if account_id:
            form["account_id"] = account_id
        response = requests.post(
            f"{self.url}/authorize", data=form, allow_redirects=False, timeout=TIMEOUT
        )
        location = response.headers.get("Location", "")
        query = parse_qs(urlsplit(location).query)
        if response.status_code != 302 or "code" not in query:
            raise RuntimeError(
                f"consent failed: {response.status_code} {location or response.text}"
            )
        if query.get("state") != [state]:
            raise RuntimeError(f"consent returned the wrong state: {location}")
        return query["code"][0]

    def exchange_code(
        self, client_id: str, client_secret: str, code: str, redirect_uri: str
    ) -> dict[str, Any]:
        """`POST /oauth/token` with `grant_type=authorization_code`; the token response."""
        response = requests.post(
            f"{self.url}/oauth/token",
            json={
                "grant_type": "authorization_code",
                "client_id": client_id,
                "client_secret": client_secret,
                "code": code,
                "redirect_uri": redirect_uri,
            },
            timeout=TIMEOUT,
        )
        if response.status_code != 200:
            raise RuntimeError(f"code exchange failed: {response.status_code} {response.text}")
        return response.json()

    def connect_oauth(
        self,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        scopes: Iterable[str] = ("read:jira-work", "write:jira-work", "read:jira-user"),
        sites: Iterable[str] = ("beta",),
        account_id: str | None = None,
    ) -> dict[str, Any]:
        """Consent and exchange the code (adds `offline_access`); the token response."""
        wanted = list(dict.fromkeys([*scopes, "offline_access"]))
        code = self.authorize(client_id, redirect_uri, wanted, sites, account_id)
        return self.exchange_code(client_id, client_secret, code, redirect_uri)

    def grants(self, client_id: str | None = None) -> list[dict[str, Any]]:
        params = {"client_id": client_id} if client_id else {}
        return self.control("GET", "/oauth/grants", **params)

    def revoke_grant(self, grant_id: str) -> dict[str, Any]:
        """What an admin does in Atlassian's UI: every token of the grant stops working."""
        return self.control("POST", f"/oauth/grants/{grant_id}/revoke")

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """`PUT /sandbox/faults` (latency_ms, rate_429, retry_after_s, rate_5xx, app, seed...)."""
        return self.control("PUT", "/faults", settings)

    def clear_faults(self) -> None:
        self.control("DELETE", "/faults")

    def counters(self, app: str | None = None) -> dict[str, Any]:
        """`GET /sandbox/counters[?app=]`: calls, points, by_endpoint, violations."""
        return self.control("GET", "/counters", **({"app": app} if app else {}))

    def reset_counters(self) -> None:
        self.control("DELETE", "/counters")

    @property
    def forge_jwks_url(self) -> str:
        """The Forge platform's JWKS (``FORGE_JWKS_URL`` for an app behind it)."""
        return f"{self.url}/forge/.well-known/jwks.json"

    def forge_install(
        self, site: str, manifest: dict[str, Any], variables: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Deploy a Forge app (its manifest as JSON) and install it on ``site``."""
        return self.control(
            "POST", "/forge/install", {"site": site, "manifest": manifest, "variables": variables}
        )

    def forge_scheduled(self, site: str, app_id: str) -> dict[str, Any]:
        """Fire the app's scheduled trigger on ``site`` now."""
        return self.control("POST", "/forge/scheduled", {"site": site, "app_id": app_id})

    def close_account(self, account_id: str) -> dict[str, Any]:
        """Close an Atlassian account (anonymised on every site; reports answer `closed`)."""
        return self.control("POST", f"/accounts/{account_id}/close")

    def update_account(self, account_id: str, **profile: str) -> dict[str, Any]:
        """Change an account's profile (`displayName`, `email`) on every site."""
        return self.control("POST", f"/accounts/{account_id}/update", profile)

    def personal_data(self) -> dict[str, Any]:
        """`GET /sandbox/personal-data`: settings, closures, changes, reports received."""
        return self.control("GET", "/personal-data")

    def set_personal_data(self, **settings: int) -> dict[str, Any]:
        """`PUT /sandbox/personal-data` (cycle_period_days, rate_limit_next, retry_after_s)."""
        return self.control("PUT", "/personal-data", settings)


@contextmanager
def running_sandbox(
    sites: tuple[str, ...] = ("alpha", "beta"),
    retry_delays: tuple[float, ...] = FAST_RETRY_DELAYS,
    delivery_timeout: float = 5.0,
    seed: str = "sandbox",
    oauth_clients: Iterable[OAuthClientSpec] = (),
    access_token_lifetime: float = 3600.0,
    webhook_lifetime: float = 30 * 86400.0,
    forge_token_lifetime: float = 3600.0,
) -> Iterator[RunningSandbox]:
    """A sandbox on a free loopback port for the duration of the block."""
    config = SandboxConfig(
        sites=sites,
        host="127.0.0.1",
        port=0,
        retry_delays=retry_delays,
        delivery_timeout=delivery_timeout,
        seed=seed,
        oauth_clients=tuple(oauth_clients),
        access_token_lifetime=access_token_lifetime,
        webhook_lifetime=webhook_lifetime,
        forge_token_lifetime=forge_token_lifetime,
    )
    server = SandboxServer(config, _test_key())
    server.start()
    try:
        yield RunningSandbox(server.url, server.sandbox, server.app)
    finally:
        server.shutdown()
