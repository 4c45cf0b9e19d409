"""Forge mode: the sandbox as the Forge platform in front of an app's remote backend.

An app is "deployed" by handing over its manifest (as JSON, ``${NAME}`` variables filled
from ``variables`` or ``environment.variables`` defaults) and installed on a site. Then,
like Forge Remote:

- lifecycle events (``avi:forge:installed:app`` / ``uninstalled``) and product events
  (``avi:jira:*``, as Forge names and shapes them; no cascading events on deletion;
  ``filter.ignoreSelf`` honoured) are POSTed to the remote endpoints the manifest's
  triggers name, with ``Authorization: Bearer <FIT>`` and, where the endpoint asks for
  ``auth.appSystemToken``, ``x-forge-oauth-system: <app system token>``; events go
  through the webhook dispatcher (same retries, listed under ``/sandbox/deliveries``);
- the scheduled trigger and the UI modules' resolver calls are made on demand;
- the gateway (``/ex/jira/{cloudId}/rest/api/3``) accepts the app system token for the
  installation's site with the manifest's permission scopes, acting as the app's user.

An app whose manifest has ``app.connect.key`` is the same app as that Connect app: it
keeps its installation id, app user and call counters, and on install its manifest's
``connectModules`` replace the Connect descriptor's webhooks (so events come once).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from sandbox.events import SECONDARY, Event
from sandbox.forge_tokens import ForgeKey, invocation_token, shared_forge_key, system_token
from sandbox.installer import InstallError
from sandbox.seed import app_account_id, stable_uuid
from sandbox.state import SandboxState, User
from sandbox.times import iso_now
from sandbox.webhooks import FORGE, Target

APP_ID = re.compile(r"ari:cloud:ecosystem::app/[0-9a-f-]{36}")
VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
INSTALLED, UNINSTALLED = "avi:forge:installed:app", "avi:forge:uninstalled:app"
# Jira webhook event -> the Forge event of the same change.
FORGE_EVENTS = {
    "jira:issue_created": "avi:jira:created:issue",
    "jira:issue_updated": "avi:jira:updated:issue",
    "jira:issue_deleted": "avi:jira:deleted:issue",
    "comment_created": "avi:jira:commented:issue",
    "comment_updated": "avi:jira:commented:issue",
    "comment_deleted": "avi:jira:deleted:comment",
    "attachment_created": "avi:jira:created:attachment",
    "attachment_deleted": "avi:jira:deleted:attachment",
}
# A comment's issue_updated twin: Forge sends the comment event only.
COMMENT_UPDATES = {"issue_commented", "issue_comment_edited", "issue_comment_deleted"}


@dataclass(frozen=True)
class Endpoint:
    """A remote endpoint of the manifest: its URL and whether calls carry a system token."""

    key: str
    url: str
    system_token: bool


@dataclass(frozen=True)
class ForgeApp:
    """The parts of a manifest the platform acts on."""

    app_id: str
    name: str
    connect_key: str | None
    endpoints: dict[str, Endpoint]
    triggers: tuple[tuple[frozenset[str], str, bool], ...]  # (events, endpoint, ignoreSelf)
    scheduled: dict[str, str]  # scheduled trigger key -> endpoint key
    resolvers: dict[str, str]  # UI module key -> endpoint key
    scopes: tuple[str, ...]
    connect_webhooks: tuple[tuple[str, str], ...]

    @property
    def identity(self) -> str:
        """What the app is known by on a site: its Connect key, if it has one."""
        return self.connect_key or self.app_id


@dataclass
class ForgeInstallation:
    """The app installed on one site."""

    site: str
    app: ForgeApp
    installation_id: str
    account_id: str
    installed_at: str
    token: str = ""
    token_expires: float = 0.0

    def public(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "app_id": self.app.app_id,
            "connect_key": self.app.connect_key,
            "installationId": self.installation_id,
            "appAccountId": self.account_id,
            "scopes": list(self.app.scopes),
            "installedAt": self.installed_at,
        }


def _fill(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            if match.group(1) not in variables:
                raise InstallError(400, f"the manifest uses ${{{match.group(1)}}}, not set")
            return variables[match.group(1)]

        return VARIABLE.sub(replace, value)
    if isinstance(value, list):
        return [_fill(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, variables) for key, item in value.items()}
    return value


def _list(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    found = doc.get(name) or []
    if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
        raise InstallError(400, f"{name} must be a list of objects")
    return found


def parse_manifest(doc: Any, variables: dict[str, str] | None = None) -> ForgeApp:
    """Read and check the manifest fields the platform relies on."""
    if not isinstance(doc, dict):
        raise InstallError(400, "the manifest is not an object")
    defaults = {
        str(v.get("key")): str(v.get("default", ""))
        for v in ((doc.get("environment") or {}).get("variables") or [])
        if isinstance(v, dict)
    }
    doc = _fill(doc, {**defaults, **(variables or {})})
    app = doc.get("app") or {}
    app_id = app.get("id")
    if not isinstance(app_id, str) or not APP_ID.fullmatch(app_id):
        raise InstallError(400, "app.id must be ari:cloud:ecosystem::app/<uuid>")
    remotes = {r.get("key"): str(r.get("baseUrl", "")).rstrip("/") for r in _list(doc, "remotes")}
    modules = doc.get("modules") or {}
    endpoints = {}
    for entry in _list(modules, "endpoint"):
        base = remotes.get(entry.get("remote"))
        if not base or not base.startswith(("http://", "https://")):
            raise InstallError(400, f"endpoint {entry.get('key')!r} names no remote baseUrl")
        path = str((entry.get("route") or {}).get("path", ""))
        token = bool(((entry.get("auth") or {}).get("appSystemToken") or {}).get("enabled"))
        endpoints[str(entry.get("key"))] = Endpoint(entry["key"], base + path, token)
    triggers = tuple(
        (
            frozenset(str(e) for e in entry.get("events") or []),
            str(entry.get("endpoint")),
            bool((entry.get("filter") or {}).get("ignoreSelf")),
        )
        for entry in _list(modules, "trigger")
    )
    connect = app.get("connect") or {}
    connect_base = remotes.get(connect.get("remote"), "")
    hooks = (doc.get("connectModules") or {}).get("jira:webhooks") or []
    return ForgeApp(
        app_id=app_id,
        name=str(app.get("name") or doc.get("name") or app_id),
        connect_key=connect.get("key") if isinstance(connect.get("key"), str) else None,
        endpoints=endpoints,
        triggers=triggers,
        scheduled={str(e["key"]): str(e["endpoint"]) for e in _list(modules, "scheduledTrigger")},
        resolvers={
            str(e["key"]): str((e.get("resolver") or {}).get("endpoint"))
            for name in ("jira:issuePanel", "jira:adminPage")
            for e in _list(modules, name)
        },
        scopes=tuple(str(s) for s in ((doc.get("permissions") or {}).get("scopes") or [])),
        connect_webhooks=tuple(
            (str(h["event"]), connect_base + str(h["url"])) for h in hooks if isinstance(h, dict)
        ),
    )


@dataclass(frozen=True)
class ForgeShot:
    """One attempt of a Forge event delivery (a fresh FIT and the current token)."""

    identifier: str
    url: str
    body: bytes
    header_values: dict[str, str] = field(default_factory=dict)

    def headers(self, retry: int) -> dict[str, str]:
        return {"Content-Type": "application/json", **self.header_values}


class ForgePlatform:
    """Apps, installations, tokens and invocations of the sandbox's Forge."""

    def __init__(
        self,
        state: SandboxState,
        seed: str,
        token_lifetime: float = 3600.0,
        timeout: float = 10.0,
        key: ForgeKey | None = None,
    ) -> None:
        self.state = state
        self.seed = seed
        self.token_lifetime = token_lifetime
        self.timeout = timeout
        first = key or shared_forge_key()
        self.keys: dict[str, ForgeKey] = {first.kid: first}
        self.current_kid = first.kid
        self.installs: dict[tuple[str, str], ForgeInstallation] = {}
        self.tokens: dict[str, tuple[str, str, float]] = {}  # token -> (site, app id, exp)
        self._secret = secrets.token_urlsafe(32)

    # --- keys -------------------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        with self.state.lock:
            return {"keys": [key.jwk() for key in self.keys.values()]}

    def rotate(self, key: ForgeKey) -> str:
        with self.state.lock:
            self.keys[key.kid] = key
            self.current_kid = key.kid
            return key.kid

    # --- tokens -----------------------------------------------------------------------
    def token_for(self, install: ForgeInstallation) -> str:
        """The installation's system token; a new one once 20% of its life is gone."""
        with self.state.lock:
            now = time.time()
            if install.token and install.token_expires - now > 0.8 * self.token_lifetime:
                return install.token
            expires = now + self.token_lifetime
            token = system_token(
                self._secret, install.installation_id, install.account_id, int(expires)
            )
            install.token, install.token_expires = token, expires
            self.tokens[token] = (install.site, install.app.app_id, expires)
            return token

    def revoke_tokens(self, site: str, app_id: str) -> int:
        """Make every system token of an installation stop working at once."""
        with self.state.lock:
            doomed = [t for t, (s, a, _) in self.tokens.items() if (s, a) == (site, app_id)]
            for token in doomed:
                self.tokens[token] = (site, app_id, 0.0)
            install = self.installs.get((site, app_id))
            if install is not None:
                install.token, install.token_expires = "", 0.0
            return len(doomed)

    def caller(self, token: str, site: str) -> tuple[str, str, tuple[str, ...]] | None:
        """(app identity, app account, scopes) for a live system token on ``site``; None
        when ``token`` is not a system token; ValueError (why) when it is one but dead."""
        with self.state.lock:
            found = self.tokens.get(token)
            if found is None:
                return None
            token_site, app_id, expires = found
            install = self.installs.get((token_site, app_id))
            if install is None or expires <= time.time():
                raise ValueError("The app system token has expired or was revoked.")
            if token_site != site:
                raise ValueError("The app system token is for another site.")
            return install.app.identity, install.account_id, install.app.scopes

    # --- install ----------------------------------------------------------------------
    def install(
        self, site_name: str, manifest: Any, variables: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Deploy and install the app on a site; the installed event is sent at once."""
        app = parse_manifest(manifest, variables)
        with self.state.lock:
            site = self.state.site(site_name)
            account = app_account_id(self.seed, site_name, app.identity)
            site.users.setdefault(account, User(account, app.name, None, "app"))
            if app.connect_key:  # the Forge version replaces the Connect descriptor
                connect = self.state.installations.get((site_name, app.connect_key))
                if connect is not None:
                    connect.webhooks = list(app.connect_webhooks)
            install = ForgeInstallation(
                site=site_name,
                app=app,
                installation_id="ari:cloud:ecosystem::installation/"
                + stable_uuid(self.seed, "installation", site_name, app.identity),
                account_id=account,
                installed_at=iso_now(),
            )
            self.installs[(site_name, app.app_id)] = install
        status, error = self._lifecycle(install, INSTALLED)
        return {
            "installationId": install.installation_id,
            "appId": app.app_id,
            "status": status,
            "installed": True,
            "error": error,
        }

    def uninstall(self, site_name: str, app_id: str) -> dict[str, Any]:
        """Send the uninstalled event, then forget the installation and its tokens."""
        install = self.installation(site_name, app_id)
        status, error = self._lifecycle(install, UNINSTALLED)
        self.revoke_tokens(site_name, app_id)
        with self.state.lock:
            self.installs.pop((site_name, app_id), None)
        return {"installationId": install.installation_id, "status": status, "error": error}

    def installation(self, site_name: str, app_id: str) -> ForgeInstallation:
        with self.state.lock:
            self.state.site(site_name)
            install = self.installs.get((site_name, app_id))
        if install is None:
            raise InstallError(404, f"{app_id!r} is not installed on {site_name!r}")
        return install

    def listing(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [install.public() for install in self.installs.values()]

    # --- invocations ------------------------------------------------------------------
    def headers(
        self,
        install: ForgeInstallation,
        endpoint: Endpoint,
        module: tuple[str, str],
        principal: str | None = None,
        extension: dict[str, Any] | None = None,
    ) -> dict[str, str]:
        """Authorization (a fresh FIT) and, if the endpoint asks, the system token."""
        with self.state.lock:
            cloud_id = self.state.sites[install.site].cloud_id
            key = self.keys[self.current_kid]
            api = f"{self.state.public_url}/ex/jira/{cloud_id}"
        app_uuid = install.app.app_id.rsplit("/", 1)[-1]
        app = {
            "id": install.app.app_id,
            "version": "1",
            "appVersion": "1.0.0",
            "installationId": install.installation_id,
            "apiBaseUrl": api,
            "environment": {
                "type": "PRODUCTION",
                "id": f"ari:cloud:ecosystem::environment/{app_uuid}/"
                + stable_uuid(self.seed, "environment", install.app.app_id),
            },
            "module": {"type": module[0], "key": module[1]},
        }
        context: dict[str, Any] = {"cloudId": cloud_id, "moduleKey": module[1]}
        if extension is not None:  # what a UI module is shown on (e.g. its issue)
            context["extension"] = extension
        headers = {"Authorization": f"Bearer {invocation_token(key, app, context, principal)}"}
        if endpoint.system_token:
            headers["x-forge-oauth-system"] = self.token_for(install)
        return headers

    def _post(
        self,
        install: ForgeInstallation,
        endpoint_key: str,
        body: dict[str, Any],
        module: tuple[str, str],
    ) -> tuple[int | None, str | None]:
        endpoint = install.app.endpoints.get(endpoint_key)
        if endpoint is None:
            raise InstallError(400, f"the manifest has no endpoint {endpoint_key!r}")
        try:
            response = requests.post(
                endpoint.url,
                data=json.dumps(body),
                headers={
                    "Content-Type": "application/json",
                    **self.headers(install, endpoint, module),
                },
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return None, f"connection error: {type(exc).__name__}"
        return response.status_code, None

    def _lifecycle(self, install: ForgeInstallation, event: str) -> tuple[int | None, str | None]:
        with self.state.lock:
            site = self.state.sites[install.site]
            body = {
                "eventType": event,
                "id": install.installation_id,
                "installerAccountId": site.humans[0],
                "app": {"id": install.app.app_id, "version": "1"},
                "context": {"cloudId": site.cloud_id},
            }
        for events, endpoint, _ in install.app.triggers:
            if event in events:
                return self._post(install, endpoint, body, ("core:trigger", "lifecycle"))
        return None, "the manifest has no trigger for this lifecycle event"

    def run_scheduled(self, site_name: str, app_id: str, key: str | None = None) -> dict[str, Any]:
        """Fire a scheduled trigger now (the first one unless ``key`` names another)."""
        install = self.installation(site_name, app_id)
        scheduled = install.app.scheduled
        key = key or next(iter(scheduled), None)
        if key not in scheduled:
            raise InstallError(404, "the manifest has no such scheduled trigger")
        with self.state.lock:
            cloud_id = self.state.sites[site_name].cloud_id
        body = {"context": {"cloudId": cloud_id, "moduleKey": key}, "contextToken": "sandbox"}
        status, error = self._post(install, scheduled[key], body, ("core:scheduledTrigger", key))
        return {"status": status, "error": error}

    def invoke(
        self,
        site_name: str,
        app_id: str,
        module_key: str,
        path: str,
        method: str = "GET",
        principal: str | None = None,
        issue_key: str | None = None,
    ) -> dict[str, Any]:
        """A UI module's ``invokeRemote`` call: ``method path`` on its resolver's remote;
        on an issue (``issue_key``) the token's ``context.extension.issue`` names it."""
        install = self.installation(site_name, app_id)
        endpoint_key = install.app.resolvers.get(module_key)
        endpoint = install.app.endpoints.get(endpoint_key or "")
        if endpoint is None:
            raise InstallError(404, f"no UI module {module_key!r} with a remote resolver")
        with self.state.lock:
            principal = principal or self.state.sites[site_name].humans[0]
            extension = None
            if issue_key is not None:
                issue = self.state.sites[site_name].issue(issue_key)
                extension = {"issue": {"id": issue.id, "key": issue.key}}
        headers = self.headers(install, endpoint, ("xen:ui", module_key), principal, extension)
        try:
            response = requests.request(
                method, endpoint.url + path, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            return {"status": None, "error": f"connection error: {type(exc).__name__}"}
        body = (
            response.json()
            if response.headers.get("Content-Type", "").startswith("application/json")
            else response.text
        )
        return {"status": response.status_code, "body": body}

    # --- product events (through the webhook dispatcher) -------------------------------
    def targets(self, event: Event) -> list[Target]:
        """The Forge deliveries of a Jira event: one per subscribed endpoint."""
        name = FORGE_EVENTS.get(event.name)
        if name is None or event.flow == SECONDARY:
            return []  # Forge sends no cascading events for a deletion
        if event.body.get("issue_event_type_name") in COMMENT_UPDATES:
            return []
        actor = (event.body.get("user") or {}).get("accountId") or (
            (event.body.get("comment") or {}).get("updateAuthor") or {}
        ).get("accountId")
        found = []
        with self.state.lock:
            installs = [i for (site, _), i in self.installs.items() if site == event.site]
        for install in installs:
            body = _forge_body(name, event.body, actor, install.account_id)
            for events, endpoint_key, ignore_self in install.app.triggers:
                endpoint = install.app.endpoints.get(endpoint_key)
                if name not in events or endpoint is None:
                    continue
                if ignore_self and body["selfGenerated"]:
                    continue
                found.append(
                    Target(
                        FORGE,
                        install.app.app_id,
                        endpoint.url,
                        client_key=install.installation_id,
                        body=body,
                    )
                )
        return found

    def shot(self, delivery: Any) -> ForgeShot | None:
        """What one attempt of a Forge delivery sends, or None once uninstalled."""
        with self.state.lock:
            install = self.installs.get((delivery.site, delivery.app_key))
        if install is None or install.installation_id != delivery.client_key:
            return None
        endpoint = next((e for e in install.app.endpoints.values() if e.url == delivery.url), None)
        if endpoint is None:
            return None
        headers = self.headers(install, endpoint, ("core:trigger", endpoint.key))
        return ForgeShot(delivery.identifier, delivery.url, delivery.body, headers)


def _forge_body(
    name: str, webhook: dict[str, Any], actor: str | None, app_account: str
) -> dict[str, Any]:
    """A Jira webhook body as the Forge event of the same change."""
    body: dict[str, Any] = {"eventType": name, "selfGenerated": actor == app_account}
    if actor:
        body["atlassianId"] = actor
        body["associatedUsers"] = [{"accountId": actor}]
    for part in ("issue", "changelog", "comment", "attachment"):
        if part in webhook:
            body[part] = webhook[part]
    return body
