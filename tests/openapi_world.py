"""The world schemathesis runs in (tests/test_openapi.py): Tandem served on a real port,
installed through Connect and Forge on the sandbox site ``alpha``, an OAuth connection to
``beta``, a dashboard owner, a Jira admin who is the workspace's owner, and things the
parameters can name (an integration, an issue link, a finished dry-run clean-up and
export, a second account and Jira user). ``sign`` puts on a generated request the credentials its
operation's security scheme asks for, as Atlassian, Forge or a browser would send them.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlencode

from flask import Flask
from rq import Queue, SimpleWorker
from sqlalchemy import select

import runtime as runtime_module
from auth.memberships import set_jira_member_role
from compliance.cleanup_jobs import start_cleanup
from compliance.cleanup_runs import WORKSPACE
from compliance.export_requests import download_token, export_status, start_export
from config import Settings
from jira.oauth_endpoints import Site, TokenSet
from models.connection_lifecycle import connect_sites
from models.installations import Installation
from models.integration_config import create_integration
from models.links import IssueLink
from rq_worker import QUEUES
from runtime import Runtime
from sandbox.keyserver import current_key
from sandbox.testing import RunningSandbox, running_sandbox
from sandbox.tokens import (
    context_token,
    oauth_webhook_token,
    shared_secret_token,
    signed_install_token,
)
from tests.accounts_fixtures import AccountsWorld, FakeClock, accounts_app, https_client
from tests.forge_world import APP_ID, install_forge
from tests.support.http_server import serving_later

SITE, REMOTE = "alpha", "beta"
OAUTH_CLIENT = "tandem-openapi-tests"


@dataclass
class ApiWorld:
    app: Flask
    sandbox: RunningSandbox
    url: str
    app_key: str
    client_key: str
    tenant_id: uuid.UUID
    owner_account: uuid.UUID
    jira_admin: str
    oauth_secret: str
    known: dict[str, list[str]]  # parameter -> values naming real things
    _session: tuple[str, str] | None = field(default=None, repr=False)

    @property
    def runtime(self) -> Runtime:
        return self.app.extensions["tandem"]

    def session(self) -> tuple[str, str]:
        """The dashboard owner's live session (id, CSRF token); a new one once the last
        was signed out or replaced by a password change."""
        sessions = self.app.extensions["accounts"].sessions
        if self._session is None or sessions.find(self._session[0]) is None:
            session_id, record = sessions.create(self.tenant_id, self.owner_account)
            self._session = (session_id, record.csrf_token)
        return self._session

    def sign(self, case: Any, schemes: set[str]) -> None:
        """Add the credentials of one of ``schemes`` (the operation's security) to the
        generated request ``case``; an operation without security is left alone."""
        headers = case.headers = dict(case.headers or {})
        secret = self.sandbox.shared_secret(SITE, self.app_key)
        if "dashboardSession" in schemes:
            session_id, csrf = self.session()
            case.cookies = {**(case.cookies or {}), "tandem_session": session_id}
            headers["X-CSRF-Token"] = csrf
        elif "connectContextJwt" in schemes:
            context = {}
            if case.path.startswith("/connect/issue-panel"):  # Jira names the panel's issue
                asked = (case.query or {}).get("issueId")
                issue_id = asked if isinstance(asked, str) else self.known["issueId"][0]
                context = {"jira": {"issue": {"id": issue_id}}}
            token = context_token(secret, self.client_key, self.jira_admin, context)
            headers["Authorization"] = f"JWT {token}"
        elif "connectJwt" in schemes:
            query = urlencode(case.query or {}, doseq=True)
            target = f"{self.url}{unquote(case.formatted_path)}" + (f"?{query}" if query else "")
            token = shared_secret_token(secret, self.client_key, case.method, self.url, target)
            headers["Authorization"] = f"JWT {token}"
        elif "connectInstallJwt" in schemes:
            client_key = case.body.get("clientKey") if isinstance(case.body, dict) else None
            key = current_key(self.sandbox.state)
            token = signed_install_token(
                key.private_key,
                key.kid,
                client_key if isinstance(client_key, str) else self.client_key,
                self.url,
                f"{self.url}{case.formatted_path}",
                "installer",
            )
            headers["Authorization"] = f"JWT {token}"
        elif "forgeInvocationToken" in schemes:
            on_issue = case.path == "/forge/issue-panel"  # Forge names the panel's issue
            headers.update(self._forge_headers(self.known["issueId"][0] if on_issue else None))
        elif "oauthWebhookJwt" in schemes:
            cloud_id = self.sandbox.cloud_id(REMOTE)
            token = oauth_webhook_token(self.oauth_secret, OAUTH_CLIENT, cloud_id, "someone")
            headers["Authorization"] = f"Bearer {token}"

    def restore(self, case: Any) -> None:
        """Undo what a generated request did that would stop the next ones from being
        served: a Forge ``uninstalled`` event is followed by ``installed``, as Forge
        sends when the admin installs the app again."""
        if case.operation.path != "/forge/lifecycle":
            return
        forge = self.sandbox.sandbox.forge
        install = forge.installation(SITE, APP_ID)
        response = self.app.test_client().post(
            "/forge/lifecycle",
            json={"eventType": "avi:forge:installed:app", "id": install.installation_id},
            headers=self._forge_headers(),
        )
        assert response.status_code == 204, response.get_json()

    def _forge_headers(self, issue_id: str | None = None) -> dict[str, str]:
        """A fresh Forge Invocation Token and the app system token, as Forge sends them
        (for a UI module on an issue, the token names it)."""
        forge = self.sandbox.sandbox.forge
        install = forge.installation(SITE, APP_ID)
        endpoint = next(e for e in install.app.endpoints.values() if e.system_token)
        extension = {"issue": {"id": issue_id}} if issue_id else None
        return forge.headers(install, endpoint, ("core:endpoint", "openapi"), None, extension)


def _settle(runtime: Runtime) -> None:
    """Run what is queued in-process until nothing is left."""
    queues = [Queue(name, connection=runtime.redis) for name in QUEUES]
    SimpleWorker(queues, connection=runtime.redis).work(burst=True)


def _empty_queues(runtime: Runtime) -> None:
    for name in QUEUES:  # jobs the generated requests queued point at a sandbox gone next
        Queue(name, connection=runtime.redis).empty()


def _seed(world: ApiWorld, installation_id: uuid.UUID, accounts: AccountsWorld) -> None:
    """Things the path parameters can name, each of this workspace."""
    rt, tenant = world.runtime, world.tenant_id
    end = {"kind": "installation", "id": str(installation_id)}
    with rt.db.tenant_session(tenant) as session:
        integration = create_integration(
            session,
            {
                "name": "ALP to ALPR",
                "source": {**end, "project": "ALP"},
                "target": {**end, "project": "ALPR"},
                "direction": "one_way",
                "fields": ["summary"],
            },
        )
    grant = TokenSet(
        "access", "refresh", datetime.now(UTC) + timedelta(hours=1), ("read:jira-work",)
    )
    remote = Site(
        world.sandbox.cloud_id(REMOTE), world.sandbox.site_url(REMOTE), REMOTE, grant.scopes
    )
    connected = connect_sites(rt.db, rt.keys, tenant, installation_id, grant, [remote])
    source, target = (
        world.sandbox.control("POST", f"/sites/{SITE}/issues", {"project": key, "summary": key})
        for key in ("ALP", "ALPR")
    )
    with rt.db.tenant_session(tenant) as session:
        link = IssueLink(
            tenant_id=tenant,
            integration_id=integration.id,
            source_issue_id=source["id"],
            source_issue_key=source["key"],
            target_issue_id=target["id"],
            target_issue_key=target["key"],
        )
        session.add(link)
        session.flush()
        link_id = link.id
    run_id, _ = start_cleanup(rt, tenant, WORKSPACE, dry_run=True, actor="test")
    job_id = start_export(rt, tenant)
    _settle(rt)
    finished = export_status(rt, tenant, job_id)
    assert finished is not None and finished.state == "finished", finished
    _, member = accounts.new_account(tenant, role="member")
    world.known.update(
        integration_id=[str(integration.id)],
        connection_id=[str(connected.connected[0][0])],
        run_id=[run_id],
        job_id=[job_id],
        token=[download_token(rt, finished, tenant) or ""],
        account_id=[str(member)],
        atlassian_account_id=[world.sandbox.state.sites[SITE].humans[1]],
        link_id=[str(link_id)],
        issueId=[source["id"]],  # the issue of that link (a query parameter)
    )


@contextmanager
def api_world(settings: Settings) -> Iterator[ApiWorld]:
    """Start the sandbox and Tandem and build the world (a new workspace)."""
    app_key = f"io.tandem.openapi-{uuid.uuid4().hex[:8]}"
    seed = f"openapi-{uuid.uuid4().hex[:8]}"
    oauth_secret = secrets.token_urlsafe(32)
    with serving_later() as (url, mount), running_sandbox(sites=(SITE, REMOTE), seed=seed) as sb:
        app = accounts_app(
            settings,
            base_url=url,
            app_key=app_key,
            connect_install_keys_url=f"{sb.url}/connect-keys",
            sandbox_url=sb.url,
            secret_key=secrets.token_urlsafe(32),
            forge_app_id=APP_ID,
            forge_jwks_url=sb.forge_jwks_url,
            oauth_api_base=f"{sb.url}/ex/jira",
            oauth_client_id=OAUTH_CLIENT,
            oauth_client_secret=oauth_secret,
        )
        mount(app)
        rt = app.extensions["tandem"]
        _empty_queues(rt)
        previous = runtime_module._process_runtime
        runtime_module._process_runtime = rt  # the in-process worker's jobs use it
        try:
            installed = sb.install(SITE, f"{url}/atlassian-connect.json")
            assert installed["installed"], installed
            install_forge(sb, url, app_key)
            tenant = rt.db.directory_lookup("connect_client_key", installed["clientKey"])
            assert tenant is not None
            with rt.db.tenant_session(tenant) as session:
                installation_id = session.execute(select(Installation.id)).scalar_one()
            accounts = AccountsWorld(app, https_client(app), FakeClock())  # not installed
            _, owner = accounts.new_account(tenant, role="owner")
            jira_admin = sb.state.sites[SITE].humans[0]
            sb.control("PUT", f"/sites/{SITE}/admins/{jira_admin}")
            service = app.extensions["accounts"]
            set_jira_member_role(service, tenant, jira_admin, "owner", "test", "owner")
            world = ApiWorld(
                app,
                sb,
                url,
                app_key,
                installed["clientKey"],
                tenant,
                owner,
                jira_admin,
                oauth_secret,
                {},
            )
            _seed(world, installation_id, accounts)
            yield world
        finally:
            runtime_module._process_runtime = previous
            _empty_queues(rt)
            rt.close()
