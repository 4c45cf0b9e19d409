"""A world for the admin page tests: Tandem served on a real port and installed on the
sandbox site ``alpha`` (so the workspace has an installation whose projects the pickers
list), dashboard accounts of that workspace signed in by role, and Jira users who reach
the in-Jira pages with a context JWT as Jira frames them."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select
from werkzeug.test import TestResponse

import runtime as runtime_module
from auth.memberships import set_jira_member_role
from config import Settings
from models.audit import AuditEvent
from models.installations import Installation
from runtime import Runtime
from sandbox.testing import RunningSandbox, running_sandbox
from sandbox.tokens import context_token
from tests.accounts_fixtures import AccountsWorld, FakeClock, accounts_app, https_client
from tests.support.http_server import serving_later
from tests.support.settle import settle

SITE = "alpha"
QUEUES = ("webhooks", "sync", "maintenance")
OAUTH_CLIENT = "tandem-admin-tests"
FIELD_ERROR = re.compile(r'data-error-for="([A-Za-z0-9_-]+)"[^>]*>([^<]*)<')


@dataclass
class AdminWorld:
    app: Flask
    sandbox: RunningSandbox
    app_key: str
    client_key: str
    tenant_id: uuid.UUID
    installation_id: uuid.UUID
    humans: list[str]
    accounts: AccountsWorld
    _clients: dict[tuple[uuid.UUID, str], tuple[FlaskClient, str]] = field(default_factory=dict)

    @property
    def runtime(self) -> Runtime:
        return self.app.extensions["tandem"]

    # The dashboard ---------------------------------------------------------------------

    def dashboard(self, role: str, tenant: uuid.UUID | None = None) -> tuple[FlaskClient, str]:
        """A client signed in to the dashboard with ``role`` (one account per role and
        workspace); (client, CSRF token)."""
        key = (tenant or self.tenant_id, role)
        if key not in self._clients:
            email, _ = self.accounts.new_account(key[0], role=role)
            self._clients[key] = self.accounts.signed_in(email)
        return self._clients[key]

    def get(self, role: str, path: str, tenant: uuid.UUID | None = None) -> TestResponse:
        client, _ = self.dashboard(role, tenant)
        return client.get(f"/admin{path}")

    def post(
        self, role: str, path: str, data: dict[str, Any] | None = None, tenant=None
    ) -> TestResponse:
        """A dashboard form post with the session's CSRF token."""
        client, csrf = self.dashboard(role, tenant)
        return client.post(f"/admin{path}", data={**(data or {}), "csrf_token": csrf})

    # Inside Jira -----------------------------------------------------------------------

    def token(self, user: str) -> str:
        """A context JWT as Jira signs it for an admin page viewed by ``user``."""
        secret = self.sandbox.shared_secret(SITE, self.app_key)
        return context_token(secret, self.client_key, user, {})

    def jira(
        self, method: str, path: str, user: str, data: dict[str, Any] | None = None
    ) -> TestResponse:
        """An in-Jira page request carrying the token as the iframe's links do."""
        client = self.app.test_client()
        url = f"/connect/admin{path}"
        url += ("&" if "?" in url else "?") + f"jwt={self.token(user)}"
        return client.open(url, method=method, data=data)

    def make_jira_admin(self, user: str, admin: bool = True) -> None:
        self.sandbox.control("PUT" if admin else "DELETE", f"/sites/{SITE}/admins/{user}")

    def grant(self, user: str, role: str) -> None:
        service = self.app.extensions["accounts"]
        set_jira_member_role(service, self.tenant_id, user, role, "test", "owner")

    # Jobs ------------------------------------------------------------------------------

    def settle(self, rounds: int = 6) -> None:
        """Deliver webhooks and run the queued jobs in-process, until nothing is left."""
        settle(self.runtime, self.sandbox, QUEUES, rounds)

    # Reading back ----------------------------------------------------------------------

    def audit(self, action: str, tenant: uuid.UUID | None = None) -> list[AuditEvent]:
        with self.runtime.db.tenant_session(tenant or self.tenant_id) as session:
            return list(
                session.execute(
                    select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
                ).scalars()
            )


def field_errors(response: TestResponse) -> dict[str, str]:
    """The messages a page shows next to its fields, by field name."""
    return {name: unescape(text) for name, text in FIELD_ERROR.findall(response.text)}


def installation_end(world: AdminWorld) -> str:
    return f"installation:{world.installation_id}"


def _empty_queues(runtime: Runtime) -> None:
    for name in QUEUES:  # jobs of earlier modules point at sandboxes that are gone
        Queue(name, connection=runtime.redis).empty()


@contextmanager
def admin_world(
    settings: Settings,
    name: str,
    sites: tuple[str, ...] = (SITE,),
    oauth: bool = False,
    **settings_overrides: Any,
) -> Iterator[AdminWorld]:
    """Start the sandbox and Tandem, install Tandem on ``alpha`` (a new workspace); with
    ``oauth`` Tandem is also an OAuth client of the sandbox, so other sites connect."""
    app_key = f"io.tandem.{name}-{uuid.uuid4().hex[:8]}"
    seed = f"admin-{uuid.uuid4().hex[:8]}"  # new cloud ids: new to this session's directory
    with serving_later() as (url, mount), running_sandbox(sites=sites, seed=seed) as sandbox:
        overrides: dict[str, Any] = {
            "base_url": url,
            "app_key": app_key,
            "connect_install_keys_url": f"{sandbox.url}/connect-keys",
            "sandbox_url": sandbox.url,
            "secret_key": secrets.token_urlsafe(32),
            **settings_overrides,
        }
        if oauth:
            client_secret = secrets.token_urlsafe(32)
            overrides.update(sandbox.oauth_settings(OAUTH_CLIENT, client_secret))
        app = accounts_app(settings, **overrides)
        if oauth:
            redirect = app.extensions["tandem"].settings.oauth_redirect_url
            sandbox.register_oauth_client(OAUTH_CLIENT, client_secret, [redirect], "Tandem")
        mount(app)
        runtime = app.extensions["tandem"]
        _empty_queues(runtime)
        installed = sandbox.install(SITE, f"{url}/atlassian-connect.json")
        assert installed["installed"], installed
        tenant = runtime.db.directory_lookup("connect_client_key", installed["clientKey"])
        assert tenant is not None
        with runtime.db.tenant_session(tenant) as session:
            installation_id = session.execute(select(Installation.id)).scalar_one()
        clock = FakeClock()
        app.extensions["accounts"].clock = clock
        accounts = AccountsWorld(app, https_client(app), clock)
        humans = list(sandbox.state.sites[SITE].humans)
        previous = runtime_module._process_runtime
        runtime_module._process_runtime = runtime  # the in-process worker's jobs use it
        try:
            yield AdminWorld(
                app,
                sandbox,
                app_key,
                installed["clientKey"],
                tenant,
                installation_id,
                humans,
                accounts,
            )
        finally:
            runtime_module._process_runtime = previous
            _empty_queues(runtime)
            runtime.close()
