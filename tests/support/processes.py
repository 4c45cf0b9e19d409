"""Start the product's real processes for end-to-end tests, and stop them."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import redis

from config import OAUTH_URLS, Settings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def procfile_command(name: str) -> list[str]:
    """The Procfile's command for process ``name``, its program taken from this venv."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        kind, colon, command = line.partition(":")
        if colon and kind.strip() == name:
            program, *args = shlex.split(command)
            return [str(BIN / program), *args]
    raise KeyError(f"no {name!r} process in the Procfile")


def tandem_env(
    keyring_path: str, port: int, app_key: str, sandbox_url: str, redis_url: str
) -> dict[str, str]:
    """The environment of Tandem's processes: this session's database (already in
    ``os.environ``), a web port, an app key and the sandbox standing in for Atlassian."""
    return {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "TANDEM_ENV": "test",
        "TANDEM_KEK_KEYRING": keyring_path,
        "TANDEM_BASE_URL": f"http://127.0.0.1:{port}",
        "TANDEM_APP_KEY": app_key,
        "CONNECT_INSTALL_KEYS_URL": f"{sandbox_url}/connect-keys",
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
    }


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process load ``settings`` (a test world's: its
    base URL, app key, OAuth client and endpoints, Redis and keyring), for a worker."""
    return {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "TANDEM_ENV": "test",
        "TANDEM_KEK_KEYRING": settings.kek_keyring_path,
        "TANDEM_BASE_URL": settings.base_url,
        "TANDEM_APP_KEY": settings.app_key,
        "TANDEM_SECRET_KEY": settings.secret_key,
        "CONNECT_INSTALL_KEYS_URL": settings.connect_install_keys_url,
        "REDIS_URL": settings.redis_url,
        "OAUTH_CLIENT_ID": settings.oauth_client_id,
        "OAUTH_CLIENT_SECRET": settings.oauth_client_secret,
        **{name: getattr(settings, field) for field, name in OAUTH_URLS.items()},
        "WORKER_PROCESSES": "1",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], seconds: float, interval: float = 0.2) -> bool:
    """Poll ``predicate`` until it is true or time runs out; errors count as false."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:  # noqa: S110 - still starting up
            pass
        time.sleep(interval)
    return False


class Process:
    """A child process whose output goes to a temp file (read it on failure)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=f"tandem-{name}-", suffix=".log")  # noqa: SIM115
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the process group; SIGKILL it if it has not exited after ``timeout``."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.log.close()


def logs(processes: list[Process]) -> str:
    """The tail of every process's output, for a failure message."""
    return "\n".join(f"--- {p.name}\n{p.output()[-4000:]}" for p in processes)


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
        return response.status == 200


class RedisServer:
    """A private redis-server, so a test can stop it and start it again on the same port."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed (apt-get install redis-server)"
        self.binary, self.directory, self.port = binary, directory, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        assert wait_until(lambda: redis.Redis(port=self.port).ping(), 10)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
