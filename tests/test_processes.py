"""Acceptance 1: the Procfile's web, worker and clock come up and do their jobs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import redis
from rq import Worker
from rq.cron import CronScheduler

from clock import HEARTBEAT_KEY
from config import Settings
from rq_worker import QUEUES
from tests.support.processes import RedisServer

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.25)
    return False


def test_procfile_brings_up_web_worker_and_clock(settings: Settings, tmp_path: Path) -> None:
    port = _free_port()
    private = RedisServer(tmp_path)  # its own Redis: no job of an earlier test is waiting
    private.start()
    client = redis.Redis.from_url(private.url)
    env = {
        **os.environ,
        "REDIS_URL": private.url,
        "TANDEM_ENV": "test",
        "TANDEM_KEK_KEYRING": settings.kek_keyring_path,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    honcho = subprocess.Popen(
        [str(Path(sys.executable).parent / "honcho"), "-f", "Procfile", "start", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        ready = f"http://127.0.0.1:{port}/readyz"
        assert _wait_for(lambda: _get(ready)[0] == 200, 60), "web never became ready"
        assert _get(ready)[1]["checks"] == {"database": "ok", "redis": "ok"}

        def worker_listening() -> bool:
            return any(set(QUEUES) <= set(w.queue_names()) for w in Worker.all(connection=client))

        assert _wait_for(worker_listening, 30), "no worker on the Tandem queues"
        assert _wait_for(
            lambda: any(s.name == "tandem-clock" for s in CronScheduler.all(client)), 30
        ), "the clock did not register"
        assert _wait_for(lambda: client.get(HEARTBEAT_KEY) is not None, 30), (
            "the clock's heartbeat job never ran on the worker"
        )
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            output = honcho.communicate(timeout=30)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            output = honcho.communicate()[0].decode(errors="replace")
        private.stop()
    assert "Traceback" not in output, output[-3000:]
