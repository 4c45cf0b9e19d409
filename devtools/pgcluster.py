"""A project-local PostgreSQL cluster under ``.run/pg`` (initdb, start, stop).

The cluster uses trust authentication and listens only on 127.0.0.1:55432 plus a
unix socket in ``.run/pg/socket``. PostgreSQL refuses to run as root, so when we
are root the server binaries run as the ``postgres`` OS user via ``runuser``.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

from devtools.common import (
    RUN_DIR,
    SetupError,
    ensure_run_dir,
    last_line,
    port_open,
    relative,
    say,
)

HOST = "127.0.0.1"
PORT = 55432
PG_DIR = RUN_DIR / "pg"
DATA_DIR = PG_DIR / "data"
SOCKET_DIR = PG_DIR / "socket"
LOG_FILE = PG_DIR / "log"
TOOL_LOG = PG_DIR / "tools.log"
CONF_NAME = "tandem.conf"
SERVICE_USER = "postgres"
ADMIN_URL = f"postgresql://postgres@{HOST}:{PORT}/postgres"

NOT_FOUND = (
    "PostgreSQL not found: install the PostgreSQL server "
    "(Debian: apt-get install postgresql) or set DATABASE_URL"
)


def ensure_running() -> str:
    """Initialise (once) and start (if stopped) the local cluster; return its admin URL."""
    if is_running():
        _prepare_dirs()
        _announce("local server in .run/pg, already running")
        return ADMIN_URL
    bin_dir = _require_bin_dir()
    _prepare_dirs()
    action = "started"
    if not is_initialised():
        _initdb(bin_dir)
        action = "initialised and started"
    _start(bin_dir)
    _announce(f"{action} local server in .run/pg")
    return ADMIN_URL


def stop() -> bool:
    """Stop the local cluster if it is running; return True when it was stopped."""
    if not is_running():
        return False
    bin_dir = _require_bin_dir()
    _prepare_dirs()
    _run_tool([str(bin_dir / "pg_ctl"), "-D", str(DATA_DIR), "-m", "fast", "-w", "stop"])
    return True


def is_initialised() -> bool:
    """Return True when ``.run/pg/data`` holds an initialised cluster."""
    return (DATA_DIR / "PG_VERSION").is_file()


def is_running() -> bool:
    """Return True when the cluster's postmaster is alive and its port is open."""
    try:
        pid = int((DATA_DIR / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    return _pid_alive(pid) and port_open(HOST, PORT)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_bin_dir(version: str | None = None) -> Path | None:
    """Find a directory holding both initdb and pg_ctl.

    Order: the ``/usr/lib/postgresql/<version>/bin`` matching an existing cluster,
    then PATH, then the highest ``/usr/lib/postgresql/*/bin``.
    """
    candidates: list[Path] = []
    if version:
        candidates.append(Path(f"/usr/lib/postgresql/{version}/bin"))
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    installed = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(installed, key=lambda p: _version_key(p.parent.name), reverse=True)
    return next((d for d in candidates if _has_tools(d)), None)


def _require_bin_dir() -> Path:
    """Return the binaries to use for this cluster, or fail with the not-found message."""
    version = _cluster_version()
    bin_dir = find_bin_dir(version)
    if bin_dir is None:
        raise SetupError(NOT_FOUND)
    found = _major_version(bin_dir)
    if version and found and found != version:
        raise SetupError(
            f".run/pg was created by PostgreSQL {version} but {bin_dir} is PostgreSQL {found}: "
            "install that version or run `make clean`"
        )
    return bin_dir


def _has_tools(directory: Path) -> bool:
    return all(os.access(directory / tool, os.X_OK) for tool in ("initdb", "pg_ctl"))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def _cluster_version() -> str | None:
    try:
        return (DATA_DIR / "PG_VERSION").read_text().strip()
    except OSError:
        return None


def _major_version(bin_dir: Path) -> str | None:
    result = subprocess.run(
        [str(bin_dir / "pg_ctl"), "--version"], capture_output=True, text=True, check=False
    )
    match = re.search(r"(\d+)(?:\.\d+)?", result.stdout)
    return match.group(1) if match else None


def _announce(what: str) -> None:
    say(f"postgres at {HOST}:{PORT} ({what})")


def _service_account() -> pwd.struct_passwd | None:
    """Return the OS account to run PostgreSQL as when we are root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise SetupError(
            "running as root, and PostgreSQL refuses to run as root: create a 'postgres' "
            "OS user (apt-get install postgresql does), run as a normal user, "
            "or set DATABASE_URL"
        ) from None


def _as_service_user(command: list[str]) -> list[str]:
    if _service_account() is None:
        return command
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", SERVICE_USER, "--", *command]


def _prepare_dirs() -> None:
    """Create .run/pg and its socket dir; hand them to the postgres user when root."""
    account = _service_account()
    ensure_run_dir(traversable=account is not None)
    for directory in (PG_DIR, SOCKET_DIR):
        directory.mkdir(mode=0o700, exist_ok=True)
    if account is None:
        return
    if PG_DIR.stat().st_uid != account.pw_uid or SOCKET_DIR.stat().st_uid != account.pw_uid:
        _chown_tree(PG_DIR, account.pw_uid, account.pw_gid)
    probe = _as_service_user(["test", "-w", str(PG_DIR)])
    if subprocess.run(probe, check=False, cwd="/").returncode != 0:
        raise SetupError(
            f"the postgres OS user cannot reach {PG_DIR} (a parent directory is not "
            "searchable by it): run as a normal user, move the checkout, or set DATABASE_URL"
        )


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for parent, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(parent, name), uid, gid, follow_symlinks=False)


def _run_tool(command: list[str]) -> None:
    """Run a PostgreSQL tool (as the service user if root); fail with its last output line."""
    with TOOL_LOG.open("a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        result = subprocess.run(
            _as_service_user(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=PG_DIR,
            start_new_session=True,
            check=False,
        )
    if result.returncode != 0:
        name = Path(command[0]).name
        detail = last_line(LOG_FILE) if name == "pg_ctl" else ""
        detail = detail or last_line(TOOL_LOG)
        raise SetupError(
            f"{name} failed (see {relative(TOOL_LOG)}, {relative(LOG_FILE)}): {detail}"
        )


def _initdb(bin_dir: Path) -> None:
    command = [str(bin_dir / "initdb"), "-D", str(DATA_DIR), "--auth=trust", "-U", "postgres"]
    _run_tool([*command, "--encoding=UTF8", "--no-locale"])
    with (DATA_DIR / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(f"\n# Tandem development settings\ninclude_if_exists = '{CONF_NAME}'\n")


def _write_settings() -> None:
    """(Re)write tandem.conf so the listen address and socket follow the checkout."""
    socket_dir = str(SOCKET_DIR).replace("'", "''")
    settings = (
        "# Written by devtools.setup on every start; edits are lost.\n"
        f"listen_addresses = '{HOST}'\n"
        f"port = {PORT}\n"
        f"unix_socket_directories = '{socket_dir}'\n"
    )
    path = DATA_DIR / CONF_NAME
    path.write_text(settings, encoding="utf-8")
    account = _service_account()
    if account:
        os.chown(path, account.pw_uid, account.pw_gid)


def _start(bin_dir: Path) -> None:
    if port_open(HOST, PORT):
        raise SetupError(
            f"port {PORT} on {HOST} is in use by another program, so the local "
            "PostgreSQL cannot start: stop that program or set DATABASE_URL"
        )
    _write_settings()
    pg_ctl = str(bin_dir / "pg_ctl")
    _run_tool([pg_ctl, "-D", str(DATA_DIR), "-l", str(LOG_FILE), "-w", "-t", "60", "start"])
