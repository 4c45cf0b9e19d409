"""A world for sync tests: a sandbox site with Tandem installed through real HTTP, an
integration between its two projects, and an RQ worker run in-process on demand."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import requests
from sqlalchemy import select

import runtime as runtime_module
from app import create_app
from config import Settings
from jira.client import JiraClient
from jira.signing import ConnectCredentials
from models.installations import Installation
from models.integration_config import create_integration
from models.links import IssueLink
from models.sync_attempts import SyncAttempt
from runtime import Runtime
from sandbox.testing import running_sandbox
from tests.support.http_server import serving_later
from tests.support.settle import settle


@dataclass
class World:
    runtime: Runtime
    sandbox: object
    tenant_id: uuid.UUID
    integration_id: uuid.UUID
    app_key: str

    def control(self, method: str, path: str, **body: object) -> dict:
        response = requests.request(
            method, f"{self.sandbox.url}/sandbox/sites/alpha{path}", json=body or None, timeout=10
        )
        assert response.status_code < 300, response.text
        return response.json() if response.content else {}

    def settle(self, rounds: int = 4) -> None:
        """Deliver, drain the queues, and again while Tandem's own writes cause webhooks."""
        settle(self.runtime, self.sandbox, ("webhooks", "sync"), rounds)

    def link_of(self, key: str) -> IssueLink:
        with self.runtime.db.tenant_session(self.tenant_id) as session:
            return session.execute(
                select(IssueLink).where(
                    (IssueLink.source_issue_key == key) | (IssueLink.target_issue_key == key)
                )
            ).scalar_one()

    def mirror_of(self, key: str) -> dict:
        link = self.link_of(key)
        other = link.target_issue_key if link.source_issue_key == key else link.source_issue_key
        return self.control("GET", f"/issues/{other}")

    def client(self) -> JiraClient:
        """A client acting as the app on the site (for reading properties)."""
        return JiraClient(
            ConnectCredentials(
                self.sandbox.site_url("alpha"),
                self.app_key,
                self.sandbox.shared_secret("alpha", self.app_key),
            )
        )

    def comments(self, key: str) -> list[dict]:
        """The issue's comments as the app reads them (ADF bodies flattened to text)."""
        page = self.client().call("get_comments", path_params={"key": key}).json()
        return [{"id": c["id"], "text": adf_text(c["body"])} for c in page["comments"]]

    def attempts(self, key: str) -> list[SyncAttempt]:
        with self.runtime.db.tenant_session(self.tenant_id) as session:
            return list(
                session.execute(
                    select(SyncAttempt).where(SyncAttempt.issue_key == key).order_by(SyncAttempt.id)
                ).scalars()
            )


def adf_text(node: object) -> str:
    """The plain text of an ADF document (paragraphs joined by newlines)."""
    if isinstance(node, dict):
        if node.get("type") == "text":
            return str(node.get("text", ""))
        parts = [adf_text(child) for child in node.get("content", [])]
        return ("\n" if node.get("type") == "doc" else "").join(parts)
    return ""


@contextmanager
def sync_world(
    settings: Settings, runtime: Runtime, app_key: str, integration: dict
) -> Iterator[World]:
    with serving_later() as (url, mount):
        with running_sandbox(sites=("alpha",)) as sandbox:
            app_settings = replace(
                settings,
                base_url=url,
                app_key=app_key,
                connect_install_keys_url=f"{sandbox.url}/connect-keys",
            )
            app = create_app(app_settings)
            mount(app)
            installed = sandbox.install("alpha", f"{url}/atlassian-connect.json")
            assert installed["installed"], installed
            tenant_id = runtime.db.directory_lookup("connect_client_key", installed["clientKey"])
            with runtime.db.tenant_session(tenant_id) as session:
                installation = session.execute(select(Installation)).scalar_one()
                source = {"kind": "installation", "id": str(installation.id)}
                created = create_integration(
                    session,
                    {
                        **integration,
                        "source": {**source, "project": "ALP"},
                        "target": {**source, "project": "ALPR"},
                        "enabled": integration.get("enabled", True),
                    },
                )
            old = runtime_module._process_runtime
            worker_runtime = replace(runtime, settings=app_settings)
            runtime_module._process_runtime = worker_runtime
            try:
                yield World(worker_runtime, sandbox, tenant_id, created.id, app_key)
            finally:
                runtime_module._process_runtime = old
            app.extensions["tandem"].close()
