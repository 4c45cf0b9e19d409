"""Acceptance 1: the end-to-end sync scenarios of tests/test_e2e_sync.py with the sandbox
in Forge mode. gunicorn and the RQ worker as the Procfile starts them are the remote of
the Forge app; the site installed it through Forge only, so every change reaches Tandem
as a Forge product event (a FIT and the app system token) and every Jira call Tandem
makes carries that token through the API gateway. The same counters (the Forge app is
our Connect app's key) show exactly the writes each change takes, and no echo."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from config import Settings
from models.forge_installations import ForgeInstallation
from runtime import Runtime
from sandbox.seed import PEOPLE, person_account_id
from sandbox.testing import RunningSandbox
from tests.forge_world import APP_ID, install_forge
from tests.support.stack import process_stack
from tests.test_e2e_sync import (
    APP_KEY,
    SITE,
    STEPS,
    TWO_WAY,
    Stack,
    each_change_travels,
    test_a_change_in_b_travels_back_to_a_once,  # noqa: F401 - the same scenario, here
)

SEED = "e2e-forge-sync"  # sites of their own: no tenant of the Connect run holds them
PERSON = person_account_id(SEED, SITE, PEOPLE[0])
FORGE_STEPS = tuple(
    replace(
        step,
        body={"assignee": PERSON},
        shows=lambda f: (f["assignee"] or {}).get("accountId") == PERSON,
    )
    if step.name == "assignee"
    else step
    for step in STEPS
)


def forge_env(sandbox: RunningSandbox) -> dict[str, str]:
    """Tandem as the Forge app's remote: its id, the platform's JWKS, the API gateway."""
    return {
        "FORGE_APP_ID": APP_ID,
        "FORGE_JWKS_URL": sandbox.forge_jwks_url,
        "OAUTH_API_BASE": f"{sandbox.url}/ex/jira",
    }


def through_forge(runtime: Runtime, sandbox: RunningSandbox, site: str, web: str) -> uuid.UUID:
    """Install Tandem on ``site`` as the Forge app only; the tenant."""
    tenant_id = runtime.db.directory_lookup(
        "forge_installation", install_forge(sandbox, web, APP_KEY, site)
    )
    assert tenant_id is not None
    return tenant_id


@pytest.fixture(scope="module")
def stack(
    settings: Settings, runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with process_stack(
        settings,
        runtime,
        tmp_path_factory.mktemp("redis"),
        APP_KEY,
        SITE,
        SEED,
        TWO_WAY,
        install=through_forge,
        env=forge_env,
    ) as started:
        yield Stack(started.sandbox, started.redis, runtime, started.processes, started.tenant_id)


def test_each_change_in_a_travels_to_b_through_forge(stack: Stack) -> None:
    each_change_travels(stack, FORGE_STEPS)
    deliveries = stack.sandbox.control("GET", "/deliveries")
    assert deliveries and {d["kind"] for d in deliveries} == {"forge"}
    with stack.runtime.db.tenant_session(stack.tenant_id) as session:
        forge = session.execute(select(ForgeInstallation)).scalar_one()
    assert forge.system_token is not None and forge.status == "installed"
