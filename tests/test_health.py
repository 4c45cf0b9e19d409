"""Acceptance 1 (in part): /healthz and /readyz, including a real Redis that stops."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
import redis

from app import create_app
from config import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private_redis(tmp_path) -> Iterator[str]:
    """A real redis-server of our own, so the test can stop it."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed for this test (apt-get install redis-server)"
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.kill()
    process.wait()


def test_healthz_answers(settings: Settings) -> None:
    app = create_app(settings)
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    app.extensions["tandem"].close()


def test_readyz_names_redis_when_it_stops(settings: Settings, private_redis: str) -> None:
    app = create_app(replace(settings, redis_url=private_redis))
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["checks"] == {"database": "ok", "redis": "ok"}

    redis.Redis.from_url(private_redis).shutdown(nosave=True)
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json["failing"] == ["redis"]
    assert down.json["checks"]["database"] == "ok"
    app.extensions["tandem"].close()


def test_readyz_names_the_database_when_it_is_unreachable(settings: Settings) -> None:
    dead = f"postgresql://nobody@127.0.0.1:{_free_port()}/none"
    app = create_app(replace(settings, database_url=dead))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["failing"] == ["database"]
    assert "nobody" not in response.get_data(as_text=True), "no connection details leak"
    app.extensions["tandem"].close()


def test_unknown_route_is_a_json_404(settings: Settings) -> None:
    app = create_app(settings)
    response = app.test_client().get("/nope")
    assert response.status_code == 404
    assert response.json["error"] == "Not Found"
    app.extensions["tandem"].close()
