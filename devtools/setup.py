"""CLI: ``python -m devtools.setup --profile run|test`` and ``python -m devtools.setup --stop``.

Finds or starts PostgreSQL and Redis, creates roles and the database, makes a
development keyring and runs migrations (profile run), and writes the env file
(``.run/env`` or ``.run/test.env``). Expected failures print one line and exit 1.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import redis

from devtools import envfile, passwords, pgcluster, redisd, services
from devtools.common import (
    REPO_ROOT,
    RUN_DIR,
    SetupError,
    ensure_run_dir,
    first_line,
    relative,
    say,
    venv_bin,
)
from devtools.dburl import build_url, dsn_params
from devtools.provision import Roles, bootstrap_database, ensure_roles

KEYRING_FILE = RUN_DIR / "keyring.json"
# `make run` serves Tandem on 8000 next to the sandbox on 9000 (Procfile.dev).
SANDBOX_DEFAULTS = {
    "TANDEM_BASE_URL": "http://127.0.0.1:8000",
    "SANDBOX_URL": "http://127.0.0.1:9000",
    "CONNECT_INSTALL_KEYS_URL": "http://127.0.0.1:9000/connect-keys",
    # The sandbox plays auth.atlassian.com and api.atlassian.com for the OAuth demo.
    "OAUTH_CLIENT_ID": "tandem-dev",
    "OAUTH_AUTHORIZE_URL": "http://127.0.0.1:9000/authorize",
    "OAUTH_TOKEN_URL": "http://127.0.0.1:9000/oauth/token",
    "OAUTH_RESOURCES_URL": "http://127.0.0.1:9000/oauth/token/accessible-resources",
    "OAUTH_API_BASE": "http://127.0.0.1:9000/ex/jira",
    "OAUTH_REVOKE_URL": "http://127.0.0.1:9000/oauth/revoke",
}
# Settings that the env files we write also hold: copies of them in the environment
# (after `set -a; . .run/env` in a shell) must not be mistaken for operator settings.
GENERATED_KEYS = (
    "DATABASE_URL",
    "DATABASE_OWNER_URL",
    "DATABASE_MAINTENANCE_URL",
    "DATABASE_ADMIN_URL",
    "REDIS_URL",
    "TANDEM_KEK_KEYRING",
    "TANDEM_SECRET_KEY",
)
SECRET_KEY = "TANDEM_SECRET_KEY"  # noqa: S105 - the variable's name
OAUTH_SECRET = "OAUTH_CLIENT_SECRET"  # noqa: S105 - the variable's name


@dataclass(frozen=True)
class Profile:
    """What one profile sets up."""

    tandem_env: str
    dbname: str
    redis_db: int
    env_file: Path
    include_admin_url: bool
    migrate: bool
    keyring: bool
    sandbox: bool
    secret_key: bool = False


PROFILES = {
    "run": Profile("development", "tandem", 0, RUN_DIR / "env", False, True, True, True, True),
    "test": Profile("test", "tandem_test", 1, RUN_DIR / "test.env", True, False, False, False),
}


def set_up(profile: Profile, environ: Mapping[str, str]) -> None:
    """Run every set-up step for ``profile``."""
    ensure_run_dir()
    environ = _without_generated_copies(environ)
    server = services.resolve_postgres(environ)
    dbname = environ.get("TANDEM_DB_NAME") or profile.dbname
    urls = server.provisioned or _bootstrap(server.admin_url or "", dbname, environ)
    redis_url = services.resolve_redis(environ, profile.redis_db)
    values = {
        "TANDEM_ENV": profile.tandem_env,
        "DATABASE_URL": urls.app,
        "DATABASE_OWNER_URL": urls.owner,
        "DATABASE_MAINTENANCE_URL": urls.maintenance,
    }
    if profile.include_admin_url and urls.admin:
        values["DATABASE_ADMIN_URL"] = urls.admin
    values["REDIS_URL"] = redis_url
    keyring = _ensure_keyring(environ) if profile.keyring else None
    if keyring:
        values["TANDEM_KEK_KEYRING"] = str(keyring)
    if profile.sandbox:
        values.update({key: environ.get(key, url) for key, url in SANDBOX_DEFAULTS.items()})
    for name in (SECRET_KEY, OAUTH_SECRET) if profile.secret_key else ():
        if name == OAUTH_SECRET and not profile.sandbox:
            continue
        generated = secret_key_value(profile.env_file, environ, name)
        if generated:
            values[name] = generated
    passthrough = [
        key for key in GENERATED_KEYS if key in values and environ.get(key) == values[key]
    ]
    envfile.write(profile.env_file, values, passthrough)
    say(f"wrote {relative(profile.env_file)}")
    if profile.migrate:
        _migrate({**environ, **values})


def secret_key_value(
    env_file: Path, environ: Mapping[str, str], name: str = "TANDEM_SECRET_KEY"
) -> str | None:
    """A development secret (TANDEM_SECRET_KEY, the sandbox OAuth client's secret):
    generated once, then kept in the env file (mode 0600, under .run/); None when the
    operator sets their own in the environment."""
    if environ.get(name):
        return None
    kept = envfile.read(env_file).get(name, "")
    return kept if len(kept) >= 32 else secrets.token_urlsafe(48)


def stop_local_services() -> None:
    """Stop the project-local PostgreSQL and Redis, if they are running."""
    pg_stopped = pgcluster.stop()
    say("stopped local postgres (.run/pg)" if pg_stopped else "local postgres not running")
    redis_stopped = redisd.stop()
    say("stopped local redis (.run/redis)" if redis_stopped else "local redis not running")


def _bootstrap(admin_url: str, dbname: str, environ: Mapping[str, str]) -> services.DatabaseUrls:
    """Create roles and database with the admin URL; return the role URLs."""
    roles = Roles.from_env(environ)
    secrets = passwords.load_or_create(roles.names)
    ensure_roles(admin_url, roles, secrets)
    say(f"roles ok ({', '.join(roles.names)}; passwords in {relative(passwords.PASSWORDS_FILE)})")
    bootstrap_database(admin_url, dbname, roles)
    say(f"database {dbname} ok (owner {roles.owner})")
    server = dsn_params(admin_url, "DATABASE_ADMIN_URL")
    return services.DatabaseUrls(
        app=build_url(server, roles.app, secrets[roles.app], dbname),
        owner=build_url(server, roles.owner, secrets[roles.owner], dbname),
        maintenance=build_url(server, roles.maintenance, secrets[roles.maintenance], dbname),
        admin=admin_url,
    )


def _without_generated_copies(environ: Mapping[str, str]) -> dict[str, str]:
    """Drop settings whose values merely repeat values that we generated into an env file.

    Such copies appear after ``set -a; . .run/env`` in a shell; honouring them would,
    say, point the test profile at the development database.
    """
    ours: dict[str, set[str]] = {}
    for profile in PROFILES.values():
        copied_in = envfile.passed_through(profile.env_file)
        for key, value in envfile.read(profile.env_file).items():
            if key not in copied_in:
                ours.setdefault(key, set()).add(value)
    copied = [key for key in GENERATED_KEYS if key in environ and environ[key] in ours.get(key, ())]
    if copied:
        say(f"ignoring {', '.join(copied)} from the environment (copied from a .run env file)")
    return {key: value for key, value in environ.items() if key not in copied}


def _ensure_keyring(environ: Mapping[str, str]) -> Path | None:
    """Create the development KEK keyring unless keys come from the environment."""
    if environ.get("TANDEM_KEK_KEYRING") or environ.get("TANDEM_KEK_KEYS"):
        say("KEK keys come from the environment (TANDEM_KEK_*); no development keyring")
        return None
    if not (REPO_ROOT / "keys" / "keyring_file.py").is_file():
        say("keys/keyring_file.py does not exist yet; skipping the development keyring")
        return KEYRING_FILE if KEYRING_FILE.is_file() else None
    command = [str(venv_bin() / "python"), "-m", "keys.keyring_file", "create"]
    _run_step([*command, relative(KEYRING_FILE)], dict(environ), "keys.keyring_file create")
    if not KEYRING_FILE.is_file():
        raise SetupError(f"keys.keyring_file create did not create {relative(KEYRING_FILE)}")
    say(f"keyring ok ({relative(KEYRING_FILE)})")
    return KEYRING_FILE


def _migrate(environ: dict[str, str]) -> None:
    """Run ``alembic upgrade head`` as the owner role (skipped until alembic.ini exists)."""
    if not (REPO_ROOT / "alembic.ini").is_file():
        say("alembic.ini does not exist yet; skipping migrations")
        return
    say("migrating: alembic upgrade head")
    _run_step([str(venv_bin() / "alembic"), "upgrade", "head"], environ, "alembic upgrade head")
    say("migrations ok")


def _run_step(command: list[str], environ: dict[str, str], name: str) -> None:
    """Run a project command from the repo root; its own output shows its errors."""
    if not Path(command[0]).is_file():
        raise SetupError(f"{command[0]} not found: run `make venv`")
    result = subprocess.run(command, cwd=REPO_ROOT, env=environ, check=False)
    if result.returncode != 0:
        raise SetupError(f"{name} failed (exit {result.returncode})")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.setup", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--profile", choices=sorted(PROFILES), help="what to set up")
    group.add_argument("--stop", action="store_true", help="stop the project-local servers")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parse_args(argv)
    try:
        if args.stop:
            stop_local_services()
        else:
            set_up(PROFILES[args.profile], os.environ)
    except SetupError as exc:
        print(f"tandem: {exc}", file=sys.stderr)
        return 1
    except psycopg2.Error as exc:
        print(f"tandem: PostgreSQL error: {first_line(exc)}", file=sys.stderr)
        return 1
    except redis.RedisError as exc:
        print(f"tandem: Redis error: {first_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
