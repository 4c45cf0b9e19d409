"""A project-local ``redis-server`` under ``.run/redis`` (no persistence)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

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
PORT = 56379
REDIS_DIR = RUN_DIR / "redis"
PID_FILE = REDIS_DIR / "redis.pid"
LOG_FILE = REDIS_DIR / "log"
BASE_URL = f"redis://{HOST}:{PORT}"

NOT_FOUND = (
    "Redis not found: install redis-server (Debian: apt-get install redis-server) or set REDIS_URL"
)


def ping(url: str, timeout: float = 2.0) -> bool:
    """Return True when the Redis server at ``url`` answers PING."""
    client = client_for(url, timeout)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def client_for(url: str, timeout: float = 2.0) -> redis.Redis:
    """Return a client for ``url`` with short timeouts and no retries (for probing)."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def ensure_running() -> str:
    """Start the local redis-server unless it already answers; return its base URL."""
    if ping(BASE_URL):
        say(f"redis at {HOST}:{PORT} (local server in .run/redis, already running)")
        return BASE_URL
    if port_open(HOST, PORT):
        raise SetupError(
            f"port {PORT} on {HOST} is in use by a program that is not Redis, so the local "
            "redis-server cannot start: stop that program or set REDIS_URL"
        )
    _start(_find_binary())
    say(f"redis at {HOST}:{PORT} (started local server in .run/redis)")
    return BASE_URL


def stop() -> bool:
    """Shut down the local redis-server we started (per its pid file); True if stopped."""
    pid = _pid_from_file()
    if pid is None:
        return False
    client = client_for(BASE_URL)
    try:
        if int(client.info("server")["process_id"]) != pid:
            return False
        client.shutdown(nosave=True)
    except redis.ConnectionError:
        return False
    finally:
        client.close()
    _wait(lambda: not port_open(HOST, PORT), seconds=10)
    return True


def _find_binary() -> Path:
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    fallback = Path("/usr/bin/redis-server")
    if fallback.is_file():
        return fallback
    raise SetupError(NOT_FOUND)


def _start(binary: Path) -> None:
    ensure_run_dir()
    REDIS_DIR.mkdir(mode=0o700, exist_ok=True)
    command = [
        str(binary),
        "--bind", HOST,
        "--port", str(PORT),
        "--daemonize", "yes",
        "--dir", str(REDIS_DIR),
        "--save", "",
        "--appendonly", "no",
        "--pidfile", str(PID_FILE),
        "--logfile", str(LOG_FILE),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0 or not _wait(lambda: ping(BASE_URL, 0.5), seconds=10):
        detail = last_line(LOG_FILE) or result.stderr.strip() or result.stdout.strip()
        raise SetupError(f"redis-server did not start (see {relative(LOG_FILE)}): {detail}")


def _pid_from_file() -> int | None:
    try:
        return int(PID_FILE.read_text().strip())
    except (OSError, ValueError):
        return None


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll ``condition()`` every 0.1 s for up to ``seconds``; return its last result."""
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
