"""Acceptance 1 and 2 of the Connect issue, with real processes: gunicorn web, RQ worker
and clock, a private Redis we can stop, a proxy that can cut PostgreSQL off from the
web, and the sandbox (real HTTP) installing the app and delivering signed webhooks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.engine import make_url

from config import Settings
from models.installations import Installation, shared_secret_of
from models.webhook_events import WebhookEvent
from runtime import Runtime
from sandbox.testing import running_sandbox
from tests.support.processes import (
    Process,
    RedisServer,
    free_port,
    http_ok,
    logs,
    procfile_command,
    tandem_env,
    wait_until,
)
from tests.support.tcp_proxy import TcpProxy

APP_KEY = "io.tandem.e2e"


@dataclass
class Stack:
    web_url: str
    sandbox: object
    redis: RedisServer
    db_proxy: TcpProxy
    processes: list[Process]

    def install(self, site: str) -> dict:
        response = requests.post(
            f"{self.sandbox.url}/sandbox/install",
            json={"site": site, "descriptor_url": f"{self.web_url}/atlassian-connect.json"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def create_issue(self, site: str, summary: str) -> str:
        sites = requests.get(f"{self.sandbox.url}/sandbox/sites", timeout=10).json()
        key = next(s for s in sites if s["name"] == site)["projects"][0]["key"]
        response = requests.post(
            f"{self.sandbox.url}/sandbox/sites/{site}/issues",
            json={"project": key, "summary": summary},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return response.json()["key"]

    def deliveries(self, **filters: str) -> list[dict]:
        response = requests.get(
            f"{self.sandbox.url}/sandbox/deliveries", params=filters, timeout=10
        )
        return response.json()

    def logs(self) -> str:
        return logs(self.processes)


@pytest.fixture(scope="module")
def stack(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis_server = RedisServer(tmp_path_factory.mktemp("redis"))
    redis_server.start()
    database = make_url(settings.database_url)
    proxy = TcpProxy(database.host or "127.0.0.1", database.port or 5432)
    proxy.start()
    port = free_port()
    with running_sandbox(sites=("alpha", "beta"), retry_delays=(0.5, 1, 1, 2, 4)) as sandbox:
        env = tandem_env(settings.kek_keyring_path, port, APP_KEY, sandbox.url, redis_server.url)
        web_env = {
            **env,
            "DATABASE_URL": database.set(port=proxy.port).render_as_string(hide_password=False),
        }
        processes = [
            Process("web", procfile_command("web"), web_env),
            Process("worker", procfile_command("worker"), env),
            Process("clock", procfile_command("clock"), env),
        ]
        built = Stack(f"http://127.0.0.1:{port}", sandbox, redis_server, proxy, processes)
        try:
            assert wait_until(lambda: http_ok(f"{built.web_url}/readyz"), 60), built.logs()
            yield built
        finally:
            for process in processes:
                process.stop()
            proxy.cut()
            redis_server.stop()


def _events(runtime: Runtime, tenant_id: uuid.UUID) -> list[WebhookEvent]:
    with runtime.db.tenant_session(tenant_id) as session:
        return list(
            session.execute(select(WebhookEvent).order_by(WebhookEvent.received_at)).scalars()
        )


def _all_processed(runtime: Runtime, tenant_id: uuid.UUID, count: int) -> bool:
    events = _events(runtime, tenant_id)
    return len(events) == count and all(e.status == "processed" for e in events)


def test_install_then_one_issue_gives_one_row_and_one_job(stack: Stack, runtime: Runtime) -> None:
    installed = stack.install("alpha")
    assert installed["installed"] is True, (installed, stack.logs())
    client_key = installed["clientKey"]
    tenant_id = runtime.db.directory_lookup("connect_client_key", client_key)
    assert tenant_id is not None

    secret = stack.sandbox.shared_secret("alpha", APP_KEY)
    with runtime.db.tenant_session(tenant_id) as session:
        installation = session.execute(select(Installation)).scalar_one()
        assert secret.encode() not in bytes(installation.shared_secret)
        assert shared_secret_of(session, runtime.keys, installation) == secret

    key = stack.create_issue("alpha", "Mirror me")
    assert wait_until(lambda: _all_processed(runtime, tenant_id, 1), 30), stack.logs()
    (event,) = _events(runtime, tenant_id)
    assert (event.event, event.job_runs) == ("jira:issue_created", 1)
    assert event.payload["issue"]["key"] == key

    (delivery,) = stack.deliveries(issue_key=key, event="jira:issue_created")
    again = requests.post(
        f"{stack.sandbox.url}/sandbox/deliveries/{delivery['identifier']}/redeliver", timeout=30
    )
    assert again.status_code == 200 and again.json()["status"] == 200, again.text
    time.sleep(2)  # give a stray second job the time to run, were there one
    (event,) = _events(runtime, tenant_id)
    assert (event.status, event.job_runs) == ("processed", 1)


def test_redis_outage_loses_nothing(stack: Stack, runtime: Runtime) -> None:
    installed = stack.install("beta")
    tenant_id = runtime.db.directory_lookup("connect_client_key", installed["clientKey"])
    stack.redis.stop()
    keys = [stack.create_issue("beta", f"during outage {n}") for n in range(15)]
    assert stack.sandbox.wait_for_deliveries(30)["idle"]
    delivered = [d for d in stack.deliveries(site="beta") if d["issue_key"] in keys]
    assert len(delivered) == 15 and all(d["state"] == "delivered" for d in delivered), delivered
    pending = _events(runtime, tenant_id)
    assert len(pending) == 15 and {e.status for e in pending} == {"pending"}

    stack.redis.start()  # same port, empty: whatever was queued before is gone too
    assert wait_until(lambda: _all_processed(runtime, tenant_id, 15), 60), stack.logs()
    assert {e.job_runs for e in _events(runtime, tenant_id)} == {1}


def test_database_outage_is_retried_by_jira(stack: Stack, runtime: Runtime) -> None:
    client_key = stack.install("alpha")["clientKey"]
    tenant_id = runtime.db.directory_lookup("connect_client_key", client_key)
    before = len(_events(runtime, tenant_id))
    stack.db_proxy.cut()
    try:
        key = stack.create_issue("alpha", "while the database is away")
        assert wait_until(
            lambda: any(
                a.get("status") == 503
                for d in stack.deliveries(issue_key=key)
                for a in d["attempts"]
            ),
            20,
        ), stack.logs()
    finally:
        stack.db_proxy.start()
    assert stack.sandbox.wait_for_deliveries(30)["idle"]
    (delivery,) = stack.deliveries(issue_key=key, event="jira:issue_created")
    assert delivery["state"] == "delivered", delivery
    assert wait_until(lambda: _all_processed(runtime, tenant_id, before + 1), 30), stack.logs()
