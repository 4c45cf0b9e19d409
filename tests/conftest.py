"""Test session: a fresh database migrated as the owner and used as the app role.

`make test` writes .run/test.env (role URLs, admin URL, Redis) and exports it; the
suite refuses to run without it rather than silently testing nothing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from config import Settings, load_settings
from devtools.fresh_db import drop_database, migrate, recreate_database, with_database
from keys.keyring_file import create_keyring
from models.db import Database, driver_url, make_engine
from models.tenants import create_tenant
from runtime import Runtime, build_runtime

pytest_plugins = ["tests.connect_fixtures", "tests.support.mail", "tests.accounts_fixtures"]
REQUIRED = ("DATABASE_URL", "DATABASE_OWNER_URL", "DATABASE_MAINTENANCE_URL", "REDIS_URL")


def _require_env() -> None:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.exit(f"{', '.join(missing)} not set: run the tests with `make test`", returncode=2)


def _session_redis(url: str) -> str:
    """A Redis database of this session's own (one of 5..15, claimed with a marker key,
    so concurrent runs and the benchmarks' dbs never meet), emptied first."""
    for offset in range(11):
        number = 5 + (os.getpid() + offset) % 11
        candidate = urlunsplit(urlsplit(url)._replace(path=f"/{number}"))
        client = redis.Redis.from_url(candidate)
        if client.set("tandem:test-session", os.getpid(), nx=True, ex=3600):
            client.flushdb()
            client.set("tandem:test-session", os.getpid(), ex=3600)
            return candidate
    pytest.exit("every test Redis database (5..15) is claimed by another test run", 2)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A fresh database for this session only (``<test db>_<pid>``, so two test runs on
    one server never meet); the environment is pointed at it for child processes too."""
    _require_env()
    base = make_url(driver_url(os.environ["DATABASE_OWNER_URL"])).database or ""
    if os.environ.get("TANDEM_ENV") != "test" or not base.endswith("_test"):
        pytest.exit(f"refusing to recreate database {base!r}: run the tests with `make test`", 2)
    session_db = f"{base}_{os.getpid()}"
    for name in REQUIRED[:3]:
        os.environ[name] = with_database(os.environ[name], session_db)
    os.environ["REDIS_URL"] = _session_redis(os.environ["REDIS_URL"])
    role_of = {name: make_url(driver_url(os.environ[name])).username for name in REQUIRED[:3]}
    owner_url = os.environ["DATABASE_OWNER_URL"]
    recreate_database(owner_url, role_of["DATABASE_URL"], role_of["DATABASE_MAINTENANCE_URL"])
    migrate(owner_url)
    # Mail is written as .eml files into this session's own directory (children too).
    os.environ["MAIL_BACKEND"] = "file"
    os.environ["MAIL_DIR"] = str(tmp_path_factory.mktemp("mail"))
    keyring = tmp_path_factory.mktemp("keys") / "keyring.json"
    create_keyring(keyring)
    yield replace(load_settings(), env="test", kek_keyring_path=str(keyring), kek_keys="")
    drop_database(owner_url)
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()  # releases the claim too


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
