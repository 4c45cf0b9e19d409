"""Shared by the benchmarks: the bench database, its URLs, timing, figures and result files.

The benchmarks never touch the database the URLs name: they use ``tandem_bench`` on the
same server, created and migrated as the owner role like the test database.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from devtools.fresh_db import ROOT, migrate, recreate_database, with_database
from models.db import driver_url

BENCH_DATABASE = "tandem_bench"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
REQUIRED = ("DATABASE_URL", "DATABASE_OWNER_URL", "DATABASE_MAINTENANCE_URL")
_ROLE_VARIABLES = {"app": "TANDEM_APP_ROLE", "maintenance": "TANDEM_MAINTENANCE_ROLE"}


class BenchSetupError(RuntimeError):
    """The environment cannot run a benchmark; the message says what to set."""


@dataclass(frozen=True)
class BenchUrls:
    """The app and owner URLs of the bench database, and the role names from the URLs."""

    app: str
    owner: str
    app_role: str
    maintenance_role: str


def _username(url: str) -> str:
    name = make_url(driver_url(url)).username
    if not name:
        raise BenchSetupError("database URLs must name their role (postgresql://role@host/db)")
    return name


def _pin_role_variable(kind: str, role: str, environ: Mapping[str, str]) -> None:
    """Make the migrations grant to the URL's role (models.roles reads the environment)."""
    variable = _ROLE_VARIABLES[kind]
    configured = environ.get(variable)
    if configured and configured != role:
        raise BenchSetupError(f"{variable}={configured!r} but the {kind} URL's role is {role!r}")
    os.environ[variable] = role


def bench_urls(environ: Mapping[str, str] | None = None) -> BenchUrls:
    """Read the configured role URLs and point them at the bench database."""
    environ = os.environ if environ is None else environ
    missing = [name for name in REQUIRED if not environ.get(name)]
    if missing:
        raise BenchSetupError(
            f"{', '.join(missing)} not set: run with the env of a configured Tandem (`make bench`)"
        )
    if make_url(driver_url(environ["DATABASE_URL"])).database == BENCH_DATABASE:
        raise BenchSetupError(f"DATABASE_URL names {BENCH_DATABASE}, which the benchmarks rebuild")
    app_role = _username(environ["DATABASE_URL"])
    maintenance_role = _username(environ["DATABASE_MAINTENANCE_URL"])
    _pin_role_variable("app", app_role, environ)
    _pin_role_variable("maintenance", maintenance_role, environ)
    return BenchUrls(
        app=with_database(environ["DATABASE_URL"], BENCH_DATABASE),
        owner=with_database(environ["DATABASE_OWNER_URL"], BENCH_DATABASE),
        app_role=app_role,
        maintenance_role=maintenance_role,
    )


def owner_engine(urls: BenchUrls, database: str | None = None) -> Engine:
    """An unpooled owner engine on the bench database (or on ``database``)."""
    url = make_url(driver_url(urls.owner))
    if database is not None:
        url = url.set(database=database)
    return create_engine(url, poolclass=NullPool)


def database_exists(urls: BenchUrls) -> bool:
    """Whether the bench database exists on the server."""
    server = owner_engine(urls, database="postgres")
    try:
        with server.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": BENCH_DATABASE}
            ).first()
    finally:
        server.dispose()
    return found is not None


def migrations_head() -> str | None:
    """The newest migration revision in the repository."""
    config = Config(str(ROOT / "alembic.ini"))
    return ScriptDirectory.from_config(config).get_current_head()


def database_revision(engine: Engine) -> str | None:
    """The migration revision the bench database is at, or None if it is not migrated."""
    with engine.connect() as connection:
        if connection.execute(text("SELECT to_regclass('public.alembic_version')")).scalar():
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None


def rebuild_database(urls: BenchUrls) -> None:
    """Drop, create and migrate the bench database (locked down like the set-up does)."""
    recreate_database(urls.owner, urls.app_role, urls.maintenance_role)
    migrate(urls.owner)


def ensure_database(urls: BenchUrls) -> bool:
    """Create and migrate the bench database unless it is at the head; True if rebuilt."""
    if database_exists(urls):
        engine = owner_engine(urls)
        try:
            if database_revision(engine) == migrations_head():
                return False
        finally:
            engine.dispose()
    rebuild_database(urls)
    return True


def server_version(engine: Engine) -> str:
    """PostgreSQL's version string, for the result files."""
    with engine.connect() as connection:
        return str(connection.execute(text("SHOW server_version")).scalar())


def median(values: list[float]) -> float:
    """The median of a non-empty list."""
    return float(statistics.median(values))


def time_ops(operation: Callable[[], object], ops: int, repeats: int) -> list[float]:
    """Microseconds per call of ``operation``, one figure per repeat of ``ops`` calls."""
    figures = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(ops):
            operation()
        figures.append((time.perf_counter() - start) / ops * 1e6)
    return figures


def figure(name: str, value: float | int | str) -> None:
    """Print one figure on its own line: ``name value``."""
    if isinstance(value, float):
        shown = f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    else:
        shown = str(value)
    print(f"{name} {shown}", flush=True)


def write_results(name: str, data: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` (the directory is git-ignored)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def note(message: str) -> None:
    """Progress on stderr, so stdout holds only figures."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def bench_main(
    name: str,
    parse_args: Callable[[list[str] | None], Any],
    run: Callable[[Any], dict[str, Any]],
    report: Callable[[dict[str, Any]], None],
    argv: list[str] | None = None,
) -> int:
    """Parse, run, print one figure per line and write ``bench/results/<name>.json``."""
    try:
        results = run(parse_args(argv))
    except BenchSetupError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    report(results)
    path = write_results(name, results)
    note(f"wrote {path} in {results['total_seconds']} s")
    return 0
