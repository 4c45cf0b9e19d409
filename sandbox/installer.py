"""The Connect installer: fetch a descriptor, call the app's lifecycle hooks the way Jira
does (signed install with RS256; enabled/disabled with the sharedSecret), and record the
installation only when the app accepts it."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import requests

from sandbox import keyserver
from sandbox.seed import app_account_id, stable_uuid
from sandbox.state import Installation, SandboxState, Site, User
from sandbox.times import iso_now
from sandbox.tokens import join, shared_secret_token, signed_install_token

log = logging.getLogger("sandbox.installer")

SERVER_VERSION = "100299"
PLUGINS_VERSION = "1001.0.0-SNAPSHOT"


class InstallError(Exception):
    """The install could not be attempted (bad request, unreadable descriptor)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Descriptor:
    """The parts of an app descriptor that installing needs."""

    key: str
    name: str
    base_url: str
    lifecycle: dict[str, str]
    webhooks: list[tuple[str, str]]
    scopes: list[str]
    web_panels: list[dict[str, Any]] = field(default_factory=list)


def parse_descriptor(doc: Any) -> Descriptor:
    """Read and check the descriptor fields the installer relies on."""
    if not isinstance(doc, dict):
        raise InstallError(400, "the descriptor is not a JSON object")
    key, base_url = doc.get("key"), doc.get("baseUrl")
    lifecycle = doc.get("lifecycle") or {}
    if not isinstance(key, str) or not key or len(key) > 64:
        raise InstallError(400, "the descriptor needs a key (1 to 64 characters)")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise InstallError(400, "the descriptor needs an absolute baseUrl")
    if not isinstance(lifecycle, dict) or not isinstance(lifecycle.get("installed"), str):
        raise InstallError(400, "the descriptor needs lifecycle.installed")
    if (doc.get("authentication") or {}).get("type", "jwt").lower() != "jwt":
        raise InstallError(400, "the sandbox only installs apps with JWT authentication")
    modules = doc.get("modules") or {}
    hooks = modules.get("webhooks", []) if isinstance(modules, dict) else []
    hooks = hooks or doc.get("webhooks") or []
    webhooks = [
        (hook["event"], hook["url"])
        for hook in hooks
        if isinstance(hook, dict) and isinstance(hook.get("event"), str) and hook.get("url")
    ]
    return Descriptor(
        key=key,
        name=str(doc.get("name") or key),
        base_url=base_url,
        lifecycle={k: v for k, v in lifecycle.items() if isinstance(v, str)},
        webhooks=webhooks,
        scopes=[str(scope) for scope in doc.get("scopes") or []],
        web_panels=_web_panels(modules),
    )


def _web_panels(modules: Any) -> list[dict[str, Any]]:
    """The descriptor's web panels with a URL (the issue page frames them)."""
    panels = modules.get("webPanels", []) if isinstance(modules, dict) else []
    return [
        panel
        for panel in panels
        if isinstance(panel, dict) and isinstance(panel.get("url"), str) and panel.get("key")
    ]


class Installer:
    """Install, uninstall, enable and disable apps on the sandbox's sites."""

    def __init__(self, state: SandboxState, seed: str, timeout: float = 10.0) -> None:
        self.state = state
        self.seed = seed
        self.timeout = timeout
        # (site, app key) -> the installed descriptor's web panels (sandbox/issue_page.py).
        self.web_panels: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def client_key(self, site: str, app_key: str) -> str:
        """Stable per (site, app key), across re-installs, like Jira's."""
        return stable_uuid(self.seed, "client", site, app_key)

    def _payload(
        self, site: Site, descriptor_key: str, client_key: str, event: str
    ) -> dict[str, Any]:
        base = self.state.site_url(site.name)
        return {
            "key": descriptor_key,
            "clientKey": client_key,
            "serverVersion": SERVER_VERSION,
            "pluginsVersion": PLUGINS_VERSION,
            "baseUrl": base,
            "displayUrl": base,
            "productType": "jira",
            "description": f"Atlassian JIRA at {base}",
            "eventType": event,
            "cloudId": site.cloud_id,
            "installationId": "ari:cloud:ecosystem::installation/"
            + stable_uuid(self.seed, "installation", site.name, descriptor_key),
        }

    def install(self, site_name: str, descriptor_url: str) -> dict[str, Any]:
        """Fetch the descriptor, POST `installed` with an RS256 token, record on 2xx."""
        with self.state.lock:
            site = self.state.site(site_name)
        descriptor = parse_descriptor(self._fetch(descriptor_url))
        client_key = self.client_key(site_name, descriptor.key)
        secret = secrets.token_urlsafe(48)
        payload = self._payload(site, descriptor.key, client_key, "installed")
        payload["sharedSecret"] = secret
        url = join(descriptor.base_url, descriptor.lifecycle["installed"])
        status, error = self._post_signed_install(
            site, descriptor.base_url, url, client_key, payload
        )
        installed = status is not None and 200 <= status < 300
        if installed:
            self._record(site, descriptor, client_key, secret)
        log.info("install %s on %s: %s", descriptor.key, site_name, status or error)
        result: dict[str, Any] = {"clientKey": client_key, "status": status, "installed": installed}
        if error:
            result["error"] = error
        return result

    def _record(self, site: Site, descriptor: Descriptor, client_key: str, secret: str) -> None:
        account = app_account_id(self.seed, site.name, descriptor.key)
        with self.state.lock:
            self.web_panels[(site.name, descriptor.key)] = descriptor.web_panels
            site.users.setdefault(account, User(account, descriptor.name, None, "app"))
            self.state.installations[(site.name, descriptor.key)] = Installation(
                site=site.name,
                app_key=descriptor.key,
                client_key=client_key,
                shared_secret=secret,
                base_url=descriptor.base_url,
                name=descriptor.name,
                lifecycle=descriptor.lifecycle,
                webhooks=descriptor.webhooks,
                scopes=descriptor.scopes,
                app_account_id=account,
                installed_at=iso_now(),
            )

    def uninstall(self, site_name: str, app_key: str) -> dict[str, Any]:
        """POST `uninstalled` (RS256, no sharedSecret), then forget the installation."""
        with self.state.lock:
            site = self.state.site(site_name)
            inst = self._installed(site_name, app_key)
        status, error = None, None
        if "uninstalled" in inst.lifecycle:
            payload = self._payload(site, app_key, inst.client_key, "uninstalled")
            url = join(inst.base_url, inst.lifecycle["uninstalled"])
            status, error = self._post_signed_install(
                site, inst.base_url, url, inst.client_key, payload
            )
        with self.state.lock:
            self.state.installations.pop((site_name, app_key), None)
        log.info("uninstall %s from %s: %s", app_key, site_name, status or error)
        return {"clientKey": inst.client_key, "status": status, "uninstalled": True, "error": error}

    def set_enabled(self, site_name: str, app_key: str, enabled: bool) -> dict[str, Any]:
        """POST `enabled`/`disabled` signed with the sharedSecret (HS256), then flip."""
        event = "enabled" if enabled else "disabled"
        with self.state.lock:
            site = self.state.site(site_name)
            inst = self._installed(site_name, app_key)
            if not enabled:
                inst.enabled = False  # Jira stops webhooks before telling the app
        status, error = None, None
        if event in inst.lifecycle:
            payload = self._payload(site, app_key, inst.client_key, event)
            payload["sharedSecret"] = inst.shared_secret
            url = join(inst.base_url, inst.lifecycle[event])
            token = shared_secret_token(
                inst.shared_secret, inst.client_key, "POST", inst.base_url, url
            )
            status, error = self._post(url, payload, token)
        if enabled:
            with self.state.lock:
                inst.enabled = True
        return {"clientKey": inst.client_key, "status": status, "enabled": enabled, "error": error}

    def _installed(self, site_name: str, app_key: str) -> Installation:
        inst = self.state.installations.get((site_name, app_key))
        if inst is None:
            raise InstallError(404, f"{app_key!r} is not installed on {site_name!r}")
        return inst

    def _fetch(self, descriptor_url: str) -> Any:
        try:
            response = requests.get(descriptor_url, timeout=self.timeout)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as exc:
            raise InstallError(
                502, f"cannot read the descriptor at {descriptor_url}: {exc}"
            ) from None

    def _post_signed_install(
        self, site: Site, app_base_url: str, url: str, client_key: str, payload: dict[str, Any]
    ) -> tuple[int | None, str | None]:
        key = keyserver.current_key(self.state)
        subject = stable_uuid(self.seed, "connect-service", site.name)
        token = signed_install_token(
            key.private_key, key.kid, client_key, app_base_url, url, subject
        )
        return self._post(url, payload, token)

    def _post(self, url: str, payload: dict[str, Any], token: str) -> tuple[int | None, str | None]:
        headers = {"Authorization": f"JWT {token}", "Content-Type": "application/json"}
        try:
            response = requests.post(
                url, json=payload, headers=headers, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            return None, f"connection error: {type(exc).__name__}"
        return response.status_code, None
