"""The product's real processes around a sandbox: gunicorn web and the RQ worker as the
Procfile starts them, a private Redis, this session's PostgreSQL; Tandem installed on a
sandbox site over HTTP and one integration between two of its projects (written to the
database, as there is no HTTP API for it yet)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import select

from config import Settings
from models.installations import Installation
from models.integration_config import create_integration
from runtime import Runtime
from sandbox.testing import RunningSandbox, running_sandbox
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


@dataclass
class ProcessStack:
    sandbox: RunningSandbox
    redis: redis.Redis
    processes: list[Process]
    tenant_id: uuid.UUID
    integration_id: uuid.UUID
    web_url: str


def connect_install(runtime: Runtime, sandbox: RunningSandbox, site: str, web: str) -> uuid.UUID:
    """Install Tandem on ``site`` as the Connect app; the tenant."""
    installed = sandbox.control(
        "POST", "/install", {"site": site, "descriptor_url": f"{web}/atlassian-connect.json"}
    )
    assert installed["installed"], installed
    tenant_id = runtime.db.directory_lookup("connect_client_key", installed["clientKey"])
    assert tenant_id is not None
    return tenant_id


# (runtime, sandbox, site, Tandem's URL) -> the tenant of the install
Install = Callable[[Runtime, RunningSandbox, str, str], uuid.UUID]


@contextmanager
def process_stack(
    settings: Settings,
    runtime: Runtime,
    redis_dir: Path,
    app_key: str,
    site: str,
    seed: str,
    integration: dict[str, Any],
    projects: tuple[str, str] = ("ALP", "ALPR"),
    install: Install = connect_install,
    env: Callable[[RunningSandbox], dict[str, str]] = lambda sandbox: {},
) -> Iterator[ProcessStack]:
    """Start everything, install Tandem on ``site`` (as the Connect app, or as ``install``
    says, with ``env`` added to its processes') and create ``integration`` from the
    first project to the second; stop it all afterwards."""
    redis_server = RedisServer(redis_dir)
    redis_server.start()
    port = free_port()
    try:
        with running_sandbox(sites=(site,), seed=seed) as sandbox:
            env = {
                **tandem_env(
                    settings.kek_keyring_path, port, app_key, sandbox.url, redis_server.url
                ),
                "SANDBOX_URL": sandbox.url,  # the sandbox's issue view may frame the panel
                **env(sandbox),
            }
            processes = [
                Process("web", procfile_command("web"), env),
                Process("worker", procfile_command("worker"), env),
            ]
            try:
                web = f"http://127.0.0.1:{port}"
                assert wait_until(lambda: http_ok(f"{web}/readyz"), 60), logs(processes)
                tenant_id = install(runtime, sandbox, site, web)
                with runtime.db.tenant_session(tenant_id) as session:
                    end = {
                        "kind": "installation",
                        "id": str(session.execute(select(Installation.id)).scalar_one()),
                    }
                    created = create_integration(
                        session,
                        {
                            **integration,
                            "source": {**end, "project": projects[0]},
                            "target": {**end, "project": projects[1]},
                        },
                    )
                yield ProcessStack(
                    sandbox,
                    redis.Redis.from_url(redis_server.url),
                    processes,
                    tenant_id,
                    created.id,
                    web,
                )
            finally:
                for process in processes:
                    # RQ's worker pool now and then leaves a worker deaf to the stop signal:
                    # shutdown is not under test here, so it gets 5 s before SIGKILL.
                    process.stop(timeout=5)
    finally:
        redis_server.stop()
