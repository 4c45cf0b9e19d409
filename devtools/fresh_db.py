"""A fresh, migrated database for the test suite and the benchmarks."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from models.db import driver_url

ROOT = Path(__file__).resolve().parent.parent


def recreate_database(owner_url: str, app_role: str, maintenance_role: str) -> None:
    """Drop and create the owner URL's database as the owner, locked down like the set-up."""
    url = make_url(driver_url(owner_url))
    name = url.database
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


def drop_database(owner_url: str) -> bool:
    """Drop the owner URL's database once nothing uses it; False (and it stays) if busy."""
    url = make_url(driver_url(owner_url))
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}"'))
        return True
    except OperationalError:
        return False
    finally:
        server.dispose()


def migrate(owner_url: str) -> None:
    """Run every migration as the owner role."""
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["url"] = owner_url
    config.attributes["skip_logging"] = True
    command.upgrade(config, "head")


def with_database(url: str, name: str) -> str:
    """The same server and role, another database."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)
