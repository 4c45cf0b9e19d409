"""Test session: a fresh database migrated as the owner and used as the app role.

`make test` writes .run/test.env (role URLs, admin URL, Redis) and exports it; the
suite refuses to run without it rather than silently testing nothing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from config import Settings, load_settings
from keys.keyring_file import create_keyring
from models.db import Database, driver_url, make_engine
from models.tenants import create_tenant
from runtime import Runtime, build_runtime

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = ("DATABASE_URL", "DATABASE_OWNER_URL", "DATABASE_MAINTENANCE_URL", "REDIS_URL")


def _require_env() -> None:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.exit(f"{', '.join(missing)} not set: run the tests with `make test`", returncode=2)


def recreate_database(owner_url: str) -> None:
    """Drop and create the test database as the owner, then lock it down like the set-up."""
    url = make_url(driver_url(owner_url))
    name = url.database
    app_role = make_url(driver_url(os.environ["DATABASE_URL"])).username
    maintenance_role = make_url(driver_url(os.environ["DATABASE_MAINTENANCE_URL"])).username
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
        connection.execute(text(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC'))
        connection.execute(
            text(f'GRANT CONNECT ON DATABASE "{name}" TO "{app_role}", "{maintenance_role}"')
        )
    server.dispose()
    database = create_engine(url, isolation_level="AUTOCOMMIT")
    with database.connect() as connection:
        connection.execute(text("REVOKE ALL ON SCHEMA public FROM PUBLIC"))
        connection.execute(
            text(f'GRANT USAGE ON SCHEMA public TO "{app_role}", "{maintenance_role}"')
        )
    database.dispose()


def migrate(owner_url: str) -> None:
    """Run every migration as the owner role."""
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = owner_url
    config.attributes["skip_logging"] = True
    command.upgrade(config, "head")


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    _require_env()
    recreate_database(os.environ["DATABASE_OWNER_URL"])
    migrate(os.environ["DATABASE_OWNER_URL"])
    keyring = tmp_path_factory.mktemp("keys") / "keyring.json"
    create_keyring(keyring)
    return replace(load_settings(), env="test", kek_keyring_path=str(keyring), kek_keys="")


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Iterator[Runtime]:
    built = build_runtime(settings)
    yield built
    built.close()


@pytest.fixture(scope="session")
def db(runtime: Runtime) -> Database:
    return runtime.db


@pytest.fixture(scope="session")
def owner_engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_owner_url, pool_size=1)
    yield engine
    engine.dispose()


@pytest.fixture
def new_tenant(db: Database):
    """Factory: create a tenant through the app role and return its id."""

    def make(name: str = "Acme") -> uuid.UUID:
        tenant_id = uuid.uuid4()
        with db.tenant_session(tenant_id) as session:
            create_tenant(session, name)
        return tenant_id

    return make


def count(session: Session | Engine, sql: str, **params: object) -> int:
    """Run a COUNT query in a session or on a fresh engine connection."""
    if isinstance(session, Engine):
        with session.connect() as connection:
            return connection.execute(text(sql), params).scalar_one()
    return session.execute(text(sql), params).scalar_one()
