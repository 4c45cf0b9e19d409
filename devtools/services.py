"""Find (or start) the PostgreSQL and Redis servers Tandem should use.

PostgreSQL, first match wins:
  a. ``DATABASE_ADMIN_URL``: a URL allowed to create roles and databases;
  b. ``DATABASE_URL`` (+ ``DATABASE_OWNER_URL``, ``DATABASE_MAINTENANCE_URL``):
     provisioned by an operator, passed through untouched;
  c. a server on 127.0.0.1:5432 accepting user ``postgres``;
  d. a project-local cluster in ``.run/pg`` (see ``devtools.pgcluster``).
Redis: ``REDIS_URL``, else 127.0.0.1:6379, else a local server (``devtools.redisd``).
``TANDEM_FORCE_LOCAL_SERVICES=1`` skips the 127.0.0.1 default-port probes (c).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psycopg2

from devtools import pgcluster, redisd
from devtools.common import SetupError, env_flag, first_line, port_open, say
from devtools.dburl import describe, dsn_params

FORCE_LOCAL = "TANDEM_FORCE_LOCAL_SERVICES"
EXISTING_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EXISTING_REDIS_URL = "redis://127.0.0.1:6379"
PROVISIONED_KEYS = ("DATABASE_URL", "DATABASE_OWNER_URL", "DATABASE_MAINTENANCE_URL")


@dataclass(frozen=True)
class DatabaseUrls:
    """Connection URLs for the three roles (and the admin, when we have one)."""

    app: str
    owner: str
    maintenance: str
    admin: str | None = None


@dataclass(frozen=True)
class PostgresServer:
    """Either an admin URL to bootstrap roles with, or operator-provisioned URLs."""

    admin_url: str | None = None
    provisioned: DatabaseUrls | None = None


def resolve_postgres(environ: Mapping[str, str]) -> PostgresServer:
    """Pick the PostgreSQL server (order a-d above), starting a local one if needed."""
    admin_url = environ.get("DATABASE_ADMIN_URL")
    if admin_url:
        check_connects(admin_url, "DATABASE_ADMIN_URL")
        say(f"postgres at {describe(admin_url)} (DATABASE_ADMIN_URL)")
        return PostgresServer(admin_url=admin_url)
    if environ.get("DATABASE_URL"):
        return PostgresServer(provisioned=_provisioned(environ))
    if not env_flag(environ, FORCE_LOCAL) and _existing_postgres():
        say("postgres at 127.0.0.1:5432 (existing server)")
        return PostgresServer(admin_url=EXISTING_PG_URL)
    return PostgresServer(admin_url=pgcluster.ensure_running())


def resolve_redis(environ: Mapping[str, str], db: int) -> str:
    """Return the Redis URL: REDIS_URL as given, else ``<server>/<db>`` on a server we chose."""
    url = environ.get("REDIS_URL")
    if url:
        if not redisd.ping(url):
            raise SetupError("REDIS_URL is set but that server does not answer PING")
        say("redis from REDIS_URL")
        return url
    if not env_flag(environ, FORCE_LOCAL) and redisd.ping(EXISTING_REDIS_URL, timeout=1.0):
        say(f"redis at 127.0.0.1:6379, db {db} (existing server)")
        return f"{EXISTING_REDIS_URL}/{db}"
    return f"{redisd.ensure_running()}/{db}"


def check_connects(url: str, name: str) -> None:
    """Fail with one line when ``url`` (labelled ``name``) does not accept a connection."""
    dsn_params(url, name)
    try:
        psycopg2.connect(url, connect_timeout=5).close()
    except psycopg2.Error as exc:
        raise SetupError(
            f"cannot connect with {name} ({describe(url)}): {first_line(exc)}"
        ) from exc


def _provisioned(environ: Mapping[str, str]) -> DatabaseUrls:
    missing = [key for key in PROVISIONED_KEYS if not environ.get(key)]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise SetupError(
            f"DATABASE_URL is set but {' and '.join(missing)} {verb} not: an operator-provisioned "
            "database needs all three (or set DATABASE_ADMIN_URL instead)"
        )
    for key in PROVISIONED_KEYS:
        check_connects(environ[key], key)
    say(f"postgres at {describe(environ['DATABASE_URL'])} (DATABASE_URL; provisioned, no set-up)")
    return DatabaseUrls(
        app=environ["DATABASE_URL"],
        owner=environ["DATABASE_OWNER_URL"],
        maintenance=environ["DATABASE_MAINTENANCE_URL"],
    )


def _existing_postgres() -> bool:
    """Return True when 127.0.0.1:5432 accepts user postgres without a password prompt."""
    if not port_open("127.0.0.1", 5432):
        return False
    try:
        psycopg2.connect(EXISTING_PG_URL, connect_timeout=3).close()
    except psycopg2.Error as exc:
        say(f"127.0.0.1:5432 refused user postgres ({first_line(exc)}); using a local server")
        return False
    return True
