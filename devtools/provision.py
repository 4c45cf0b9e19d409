"""Roles and databases: create them idempotently with an admin connection.

The test suite reuses this to recreate its database::

    from devtools.provision import Roles, bootstrap_database, drop_database
    roles = Roles.from_database_urls(os.environ)
    drop_database(os.environ["DATABASE_ADMIN_URL"], "tandem_test")
    bootstrap_database(os.environ["DATABASE_ADMIN_URL"], "tandem_test", roles)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection, cursor, encrypt_password

from devtools.common import SetupError
from devtools.dburl import dsn_params

# pg_roles column -> (keyword when true, keyword when false)
_ATTRIBUTES = {
    "rolcanlogin": ("LOGIN", "NOLOGIN"),
    "rolsuper": ("SUPERUSER", "NOSUPERUSER"),
    "rolcreatedb": ("CREATEDB", "NOCREATEDB"),
    "rolcreaterole": ("CREATEROLE", "NOCREATEROLE"),
    "rolbypassrls": ("BYPASSRLS", "NOBYPASSRLS"),
}


@dataclass(frozen=True)
class Roles:
    """The three database roles: owner (migrations, owns everything), app, maintenance."""

    owner: str = "tandem_owner"
    app: str = "tandem_app"
    maintenance: str = "tandem_maintenance"

    def __post_init__(self) -> None:
        if len(set(self.names)) != 3 or not all(self.names):
            raise SetupError("the owner, app and maintenance roles need three distinct names")

    @property
    def names(self) -> tuple[str, str, str]:
        """All role names, owner first."""
        return (self.owner, self.app, self.maintenance)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Roles:
        """Role names from TANDEM_OWNER_ROLE / TANDEM_APP_ROLE / TANDEM_MAINTENANCE_ROLE."""
        default = cls()
        return cls(
            owner=environ.get("TANDEM_OWNER_ROLE") or default.owner,
            app=environ.get("TANDEM_APP_ROLE") or default.app,
            maintenance=environ.get("TANDEM_MAINTENANCE_ROLE") or default.maintenance,
        )

    @classmethod
    def from_database_urls(cls, environ: Mapping[str, str] = os.environ) -> Roles:
        """Role names from the users in DATABASE_OWNER_URL, DATABASE_URL, …_MAINTENANCE_URL."""
        return cls(
            owner=dsn_params(environ["DATABASE_OWNER_URL"]).get("user", ""),
            app=dsn_params(environ["DATABASE_URL"]).get("user", ""),
            maintenance=dsn_params(environ["DATABASE_MAINTENANCE_URL"]).get("user", ""),
        )


def ensure_roles(admin_url: str, roles: Roles, passwords: Mapping[str, str]) -> None:
    """Create the roles if missing, enforce their attributes and (re)set their passwords.

    Passwords are sent as SCRAM/MD5 verifiers computed client-side, never in clear.
    """
    with _admin(admin_url) as cur:
        for name in roles.names:
            wanted = _wanted_attributes(createdb=name == roles.owner)
            _create_or_alter_role(cur, name, wanted)
            verifier = encrypt_password(passwords[name], name, cur.connection)
            cur.execute(
                sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(verifier)
                )
            )


def bootstrap_database(admin_url: str, dbname: str, roles: Roles) -> None:
    """Create ``dbname`` owned by the owner role (if missing) and lock down its privileges.

    Idempotent. Only the app and maintenance roles (and the owner) may connect; in
    schema ``public`` (owned by the owner role) PUBLIC has nothing, app and
    maintenance have USAGE. The roles must exist (see ``ensure_roles``).
    """
    database = sql.Identifier(dbname)
    owner, app, maintenance = (sql.Identifier(name) for name in roles.names)
    with _admin(admin_url) as cur:
        cur.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [dbname])
        row = cur.fetchone()
        if row is None:
            cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, owner))
        elif row[0] != roles.owner:
            cur.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(database, owner))
        cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
        cur.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(database, app, maintenance)
        )
    with _admin(admin_url, dbname) as cur:
        cur.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(owner))
        cur.execute(sql.SQL("SET ROLE {}").format(owner))
        cur.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}, {}").format(app, maintenance))
        cur.execute("RESET ROLE")


def drop_database(admin_url: str, dbname: str) -> None:
    """Drop ``dbname`` if it exists, disconnecting its sessions (PostgreSQL 13+)."""
    with _admin(admin_url) as cur:
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        cur.execute(statement.format(sql.Identifier(dbname)))


@contextmanager
def _admin(admin_url: str, dbname: str | None = None) -> Iterator[cursor]:
    """Yield an autocommit cursor on the admin connection (optionally in ``dbname``)."""
    extra = {"dbname": dbname} if dbname else {}
    conn: connection = psycopg2.connect(admin_url, connect_timeout=10, **extra)
    with closing(conn):
        conn.autocommit = True
        with conn.cursor() as cur:
            yield cur


def _wanted_attributes(createdb: bool) -> dict[str, bool]:
    wanted = dict.fromkeys(_ATTRIBUTES, False)
    wanted.update(rolcanlogin=True, rolcreatedb=createdb)
    return wanted


def _create_or_alter_role(cur: cursor, name: str, wanted: dict[str, bool]) -> None:
    columns = sql.SQL(", ").join(sql.Identifier(column) for column in _ATTRIBUTES)
    cur.execute(sql.SQL("SELECT {} FROM pg_roles WHERE rolname = %s").format(columns), [name])
    row = cur.fetchone()
    current = dict(zip(_ATTRIBUTES, row, strict=True)) if row else None
    changes = [
        _ATTRIBUTES[k][0 if v else 1]
        for k, v in wanted.items()
        if current is None or current[k] != v
    ]
    if current is None:
        verb = "CREATE ROLE {} WITH "
    elif changes:
        verb = "ALTER ROLE {} WITH "
    else:
        return
    cur.execute(sql.SQL(verb + " ".join(changes)).format(sql.Identifier(name)))
