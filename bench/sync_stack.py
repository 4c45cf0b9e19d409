"""The processes `bench/sync_e2e.py` runs, as the Procfile runs them, on loopback only.

A sandbox (``python -m sandbox --sites alpha``), Tandem's web (gunicorn with
``gunicorn.conf.py``), ``python rq_worker.py worker`` (as many processes as asked, one by
default as the Procfile ships) and ``python rq_worker.py clock``, all against a database of
their own (recreated per run), a Redis database of their own (flushed) and a throwaway
keyring. The app is installed into site ``alpha`` through ``POST /sandbox/install`` and
one enabled one-way integration ALP -> ALPR is created in a tenant session.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import requests
from sqlalchemy import select

from bench.common import BenchSetupError, bench_urls, note
from devtools.fresh_db import ROOT, migrate, recreate_database, with_database
from keys.keyring_file import create_keyring
from models.db import Database
from models.installations import Installation
from models.integration_config import create_integration

DATABASE = "tandem_bench_sync"
APP_KEY = "io.tandem.bench-sync"
SITE = "alpha"
SOURCE, TARGET = "ALP", "ALPR"
START_SECONDS = 60.0
FIELDS = ["summary", "description", "priority", "status", "comments", "attachments"]


class StackFailure(RuntimeError):
    """A process did not start or answer; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_redis_url(url: str, db: int) -> str:
    """``url`` pointed at Redis database ``db``; refuse the configured database itself."""
    parts = urlsplit(url)
    if (parts.path.strip("/") or "0") == str(db):
        raise BenchSetupError(f"REDIS_URL already uses database {db}; pick another --redis-db")
    return urlunsplit(parts._replace(path=f"/{db}"))


@dataclass
class Child:
    """One started process (its own session, so its children stop with it)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)  # the group start_new_session made for it
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its direct children (gunicorn's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@dataclass
class Stack:
    """Everything one run starts; ``stop()`` ends all of it."""

    work: Path
    workers: int
    redis_db: int
    children: list[Child] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    sandbox_url: str = ""
    web_url: str = ""
    tenant_id: uuid.UUID | None = None
    integration_id: uuid.UUID | None = None
    db: Database | None = None
    redis: redis.Redis | None = None
    web_workers: int = 0

    # --- set-up ---------------------------------------------------------------------------

    def prepare(self) -> None:
        roles = bench_urls()  # checks the environment; pins the role variables migrations read
        environ = os.environ
        self.urls = {
            "app": with_database(environ["DATABASE_URL"], DATABASE),
            "owner": with_database(environ["DATABASE_OWNER_URL"], DATABASE),
            "maintenance": with_database(environ["DATABASE_MAINTENANCE_URL"], DATABASE),
            "redis": bench_redis_url(
                environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), self.redis_db
            ),
        }
        note(f"recreating database {DATABASE}; flushing Redis db {self.redis_db}")
        recreate_database(self.urls["owner"], roles.app_role, roles.maintenance_role)
        migrate(self.urls["owner"])
        create_keyring(self.work / "keyring.json")
        self.redis = redis.Redis.from_url(self.urls["redis"])
        self.redis.flushdb()
        self.db = Database.from_url(self.urls["app"], pool_size=2)

    def env(self, web_port: int) -> dict[str, str]:
        """What every Tandem process gets: the inherited environment, re-pointed."""
        keep = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TANDEM_", "DATABASE_")) and k not in ("PORT", "WEB_BIND")
        }
        return keep | {
            "TANDEM_ENV": "test",
            "TANDEM_BASE_URL": f"http://127.0.0.1:{web_port}",
            "TANDEM_APP_KEY": APP_KEY,
            "TANDEM_KEK_KEYRING": str(self.work / "keyring.json"),
            "CONNECT_INSTALL_KEYS_URL": f"{self.sandbox_url}/connect-keys",
            "DATABASE_URL": self.urls["app"],
            "DATABASE_OWNER_URL": self.urls["owner"],
            "DATABASE_MAINTENANCE_URL": self.urls["maintenance"],
            "REDIS_URL": self.urls["redis"],
            "PORT": str(web_port),
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        }

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> Child:
        log = self.work / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = Child(name, popen, log)
        self.children.append(child)
        return child

    def _wait_ok(self, child: Child, url: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if child.popen.poll() is not None:
                raise StackFailure(
                    f"{child.name} exited ({child.popen.returncode}):\n{child.tail()}"
                )
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise StackFailure(f"{url} did not answer 200 in {START_SECONDS} s:\n{child.tail()}")

    def start(self) -> None:
        sandbox_port, web_port = free_port(), free_port()
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        self.web_url = f"http://127.0.0.1:{web_port}"
        sandbox = self._start(
            "sandbox",
            [
                sys.executable,
                "-m",
                "sandbox",
                "--port",
                str(sandbox_port),
                "--sites",
                SITE,
                "--log-level",
                "WARNING",
            ],
            dict(os.environ),
        )
        self._wait_ok(sandbox, f"{self.sandbox_url}/sandbox/health")
        env = self.env(web_port)
        self.web_workers = _gunicorn_workers(env)
        web = self._start(
            "web",
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
            env,
        )
        self._wait_ok(web, f"{self.web_url}/readyz")
        for n in range(self.workers):
            self._start(f"worker{n + 1}", [sys.executable, "rq_worker.py", "worker"], env)
        self._start("clock", [sys.executable, "rq_worker.py", "clock"], env)
        note(
            f"sandbox {self.sandbox_url}, web {self.web_url} ({self.web_workers} gunicorn "
            f"workers), {self.workers} worker process(es), clock"
        )

    def install(self) -> None:
        """Install the app into site alpha and create the one-way integration ALP -> ALPR."""
        answer = requests.post(
            f"{self.sandbox_url}/sandbox/install",
            json={"site": SITE, "descriptor_url": f"{self.web_url}/atlassian-connect.json"},
            timeout=30,
        )
        installed = answer.json() if answer.status_code == 200 else {}
        if not installed.get("installed"):
            raise StackFailure(f"install failed: {answer.status_code} {answer.text}\n{self.logs()}")
        assert self.db is not None
        tenant_id = self.db.directory_lookup("connect_client_key", installed["clientKey"])
        if tenant_id is None:
            raise StackFailure("the install left no tenant behind")
        with self.db.tenant_session(tenant_id) as session:
            installation = session.execute(select(Installation)).scalar_one()
            end = {"kind": "installation", "id": str(installation.id)}
            created = create_integration(
                session,
                {
                    "name": "bench ALP to ALPR",
                    "direction": "one_way",
                    "fields": FIELDS,
                    "source": {**end, "project": SOURCE},
                    "target": {**end, "project": TARGET},
                    "enabled": True,
                },
            )
            self.integration_id = created.id
        self.tenant_id = tenant_id

    # --- during the run -------------------------------------------------------------------

    def sandbox(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        """Call the sandbox's control plane (``/sandbox{path}``); raise on an error status."""
        answer = requests.request(
            method, f"{self.sandbox_url}/sandbox{path}", json=body, timeout=timeout
        )
        if answer.status_code >= 400:
            raise StackFailure(f"{method} /sandbox{path}: {answer.status_code} {answer.text}")
        return answer.json() if answer.content else None

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far per started process (with its children)."""
        return {child.name: cpu_seconds(child.popen.pid) for child in self.children}

    def exited(self) -> list[str]:
        """Names of started processes that have exited (should be none)."""
        return [c.name for c in self.children if c.popen.poll() is not None]

    def logs(self) -> str:
        return "\n".join(f"--- {c.name}\n{c.tail(1500)}" for c in self.children)

    # --- tear-down ------------------------------------------------------------------------

    def stop(self) -> None:
        for child in reversed(self.children):  # clock and workers first, the sandbox last
            try:
                child.stop()
            except (OSError, subprocess.SubprocessError) as error:
                note(f"could not stop {child.name}: {error}")
        if self.redis is not None:
            with contextlib.suppress(redis.RedisError):
                self.redis.flushdb()
            self.redis.close()
        if self.db is not None:
            self.db.dispose()


def _gunicorn_workers(env: dict[str, str]) -> int:
    """How many workers gunicorn.conf.py gives the web process in ``env``."""
    code = "import runpy; print(runpy.run_path('gunicorn.conf.py')['workers'])"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return int(out.stdout.strip() or 0)
