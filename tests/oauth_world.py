"""A world for OAuth tests: a sandbox with sites alpha, beta and gamma (its own seed, so
its cloud ids are new to this session's directory), Tandem served over real HTTP with an
OAuth client registered at the sandbox, Tandem installed on alpha through Connect, and
the consent driven the way a browser would (start -> consent form -> callback)."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
import requests
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

import runtime as runtime_module
from app import create_app
from config import Settings
from models.audit import AuditEvent
from models.connections import Connection
from models.installations import Installation
from models.sync_attempts import SyncAttempt
from runtime import Runtime
from sandbox.seed import site_admin_account_id
from sandbox.testing import RunningSandbox, running_sandbox
from tests.support.http_server import serving_later
from tests.support.settle import settle

CLIENT_ID = "tandem-tests"
QUEUES = ("webhooks", "sync", "maintenance")
TIMEOUT = 10


@dataclass
class OAuthWorld:
    runtime: Runtime
    sandbox: RunningSandbox
    url: str
    tenant_id: uuid.UUID
    installation_id: uuid.UUID
    client_key: str
    app_key: str
    client_secret: str
    seed: str

    def context_jwt(self, **overrides: Any) -> str:
        """The admin page iframe's context JWT (qsh = context-qsh), as Jira signs it."""
        now = int(time.time())
        claims = {
            "iss": self.client_key,
            "sub": site_admin_account_id(self.seed, "alpha"),  # a Jira admin of alpha
            "iat": now,
            "exp": now + 180,
            "qsh": "context-qsh",
        }
        claims.update(overrides)
        secret = self.sandbox.shared_secret("alpha", self.app_key)
        return jwt.encode(claims, secret, algorithm="HS256")

    def start(self, token: str | None = None) -> requests.Response:
        """GET /connect/oauth/start as the admin page opens it (not following redirects)."""
        params = {"jwt": token or self.context_jwt()}
        return requests.get(
            f"{self.url}/connect/oauth/start", params=params, allow_redirects=False, timeout=TIMEOUT
        )

    def consent_form(self) -> dict[str, str]:
        """Start, and return the parameters Tandem sent to the consent screen."""
        started = self.start()
        assert started.status_code == 302, started.text
        return dict(parse_qsl(urlsplit(started.headers["Location"]).query))

    def approve(
        self,
        sites: tuple[str, ...] = ("beta",),
        scopes: list[str] | None = None,
        decision: str = "approve",
    ) -> str:
        """Run the consent screen (approve or deny); the URL it sends the browser back to."""
        form = {**self.consent_form(), "decision": decision, "site": ",".join(sites)}
        if scopes is not None:
            form["scope"] = " ".join(scopes)
        answer = requests.post(
            f"{self.sandbox.url}/authorize", data=form, allow_redirects=False, timeout=TIMEOUT
        )
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    def consent(self, sites: tuple[str, ...] = ("beta",), **options: Any) -> requests.Response:
        """The whole flow: start, consent, callback; the callback's page."""
        return requests.get(self.approve(sites, **options), allow_redirects=False, timeout=10)

    def connection(self, site: str) -> Connection:
        cloud_id = self.sandbox.cloud_id(site)
        with self.runtime.db.tenant_session(self.tenant_id) as session:
            return session.execute(
                select(Connection).where(Connection.cloud_id == cloud_id)
            ).scalar_one()

    def audits(self, action: str) -> list[AuditEvent]:
        with self.runtime.db.tenant_session(self.tenant_id) as session:
            return list(
                session.execute(
                    select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
                ).scalars()
            )

    def attempts(self, key: str) -> list[SyncAttempt]:
        with self.runtime.db.tenant_session(self.tenant_id) as session:
            return list(
                session.execute(
                    select(SyncAttempt).where(SyncAttempt.issue_key == key).order_by(SyncAttempt.id)
                ).scalars()
            )

    def control(self, site: str, method: str, path: str, **body: object) -> Any:
        """A person's action on a site (the sandbox control plane)."""
        return self.sandbox.control(method, f"/sites/{site}{path}", body or None)

    def grant_or_none(self, site: str = "beta") -> dict[str, Any] | None:
        """The newest live grant of Tandem's client covering ``site``, if any."""
        live = [g for g in self.sandbox.grants(CLIENT_ID) if g["active"] and site in g["sites"]]
        return live[-1] if live else None

    def grant(self, site: str = "beta") -> dict[str, Any]:
        """The newest live grant of Tandem's client covering ``site``."""
        found = self.grant_or_none(site)
        assert found is not None, self.sandbox.grants(CLIENT_ID)
        return found

    def settle(self, rounds: int = 6) -> None:
        """Deliver webhooks, drain the queues, again while Tandem's writes cause more."""
        settle(self.runtime, self.sandbox, QUEUES, rounds)


def clear_queues(runtime: Runtime) -> None:
    """Drop queued and scheduled jobs (of earlier test modules, or ours when done): they
    point at sandboxes that no longer run."""
    for name in QUEUES:
        queue = Queue(name, connection=runtime.redis)
        queue.empty()
        scheduled = ScheduledJobRegistry(queue=queue)
        for job_id in scheduled.get_job_ids():
            scheduled.remove(job_id, delete_job=True)


@contextmanager
def oauth_world(
    settings: Settings, runtime: Runtime, app_key: str, access_token_lifetime: float = 3600.0
) -> Iterator[OAuthWorld]:
    with serving_later() as (url, mount):
        client_secret = secrets.token_urlsafe(32)
        seed = f"oauth-{uuid.uuid4().hex[:10]}"
        clear_queues(runtime)
        with running_sandbox(sites=("alpha", "beta", "gamma"), seed=seed) as sandbox:
            app_settings = replace(
                settings,
                base_url=url,
                app_key=app_key,
                connect_install_keys_url=f"{sandbox.url}/connect-keys",
                secret_key=secrets.token_urlsafe(32),
                **sandbox.oauth_settings(CLIENT_ID, client_secret),
            )
            sandbox.register_oauth_client(
                CLIENT_ID,
                client_secret,
                [app_settings.oauth_redirect_url],
                "Tandem",
                access_token_lifetime=access_token_lifetime,
            )
            app = create_app(app_settings)
            mount(app)
            installed = sandbox.install("alpha", f"{url}/atlassian-connect.json")
            assert installed["installed"], installed
            tenant_id = runtime.db.directory_lookup("connect_client_key", installed["clientKey"])
            assert tenant_id is not None
            with runtime.db.tenant_session(tenant_id) as session:
                installation_id = session.execute(select(Installation.id)).scalar_one()
            old = runtime_module._process_runtime
            worker_runtime = replace(runtime, settings=app_settings)
            runtime_module._process_runtime = worker_runtime
            try:
                yield OAuthWorld(
                    worker_runtime,
                    sandbox,
                    url,
                    tenant_id,
                    installation_id,
                    installed["clientKey"],
                    app_key,
                    client_secret,
                    seed,
                )
            finally:
                runtime_module._process_runtime = old
                clear_queues(runtime)
            app.extensions["tandem"].close()
