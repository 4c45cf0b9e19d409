"""Alembic environment: migrate as the owner role (DATABASE_OWNER_URL)."""

from __future__ import annotations

import os
import sys
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

from models import Base
from models.db import driver_url

config = context.config
if config.config_file_name and not config.attributes.get("skip_logging"):
    fileConfig(config.config_file_name)


def _owner_url() -> str:
    url = config.attributes.get("url") or os.environ.get("DATABASE_OWNER_URL")
    if not url:
        sys.exit("tandem: DATABASE_OWNER_URL is not set (migrations run as the owner role)")
    return url


def run_migrations() -> None:
    engine = create_engine(driver_url(_owner_url()), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    sys.exit("tandem: offline migrations are not supported")
run_migrations()
