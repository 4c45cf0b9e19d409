"""Fixtures for the sandbox's own tests: a sandbox and a tiny recording Connect app,
each on a free loopback port, talking real HTTP. No database fixtures are used."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import requests
from atlassian_jwt.url_utils import hash_url
from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

from sandbox.testing import RunningSandbox, running_sandbox

APP_KEY = "com.example.tandem-test"
WEBHOOK_EVENTS = (
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "attachment_created",
    "attachment_deleted",
)


@dataclass
class Received:
    """One request the fake app got."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    at: float


@dataclass
class FakeApp:
    """A Connect app that serves a descriptor and records every call it gets.

    `answer(path, *statuses)` queues the status codes for the next calls to `path`
    (then 204); `headers` may add response headers such as Retry-After.
    """

    base_url: str = ""
    received: list[Received] = field(default_factory=list)
    plans: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    extra_descriptor: dict[str, Any] = field(default_factory=dict)

    def descriptor(self) -> dict[str, Any]:
        return {
            "key": APP_KEY,
            "name": "Tandem (test)",
            "baseUrl": self.base_url,
            "authentication": {"type": "jwt"},
            "apiMigrations": {"signed-install": True, "context-qsh": True},
            "lifecycle": {
                "installed": "/installed",
                "uninstalled": "/uninstalled",
                "enabled": "/enabled",
                "disabled": "/disabled",
            },
            "scopes": ["READ", "WRITE"],
            "modules": {
                "webhooks": [{"event": e, "url": "/webhooks/jira?v=1"} for e in WEBHOOK_EVENTS]
            },
            **self.extra_descriptor,
        }

    @property
    def descriptor_url(self) -> str:
        return f"{self.base_url}/atlassian-connect.json"

    def answer(self, path: str, *statuses: int, headers: dict[str, str] | None = None) -> None:
        with self.lock:
            self.plans.setdefault(path, []).extend((s, headers or {}) for s in statuses)

    def calls(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls(path)
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"{path}: wanted {count} calls, got {len(self.calls(path))}")

    def handle(self, path: str) -> Response:
        if path == "/atlassian-connect.json":
            return jsonify(self.descriptor())
        raw = request.get_data()
        with self.lock:
            self.received.append(
                Received(
                    request.method,
                    path,
                    request.query_string.decode(),
                    dict(request.headers),
                    request.get_json(silent=True),
                    raw,
                    time.monotonic(),
                )
            )
            plan = self.plans.get(path) or []
            status, headers = plan.pop(0) if plan else (204, {})
        return Response(status=status, headers=headers)


def serve(app: Flask) -> tuple[Any, threading.Thread, int]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    return server, thread, server.server_port


@pytest.fixture
def fake_app() -> Iterator[FakeApp]:
    recorder = FakeApp()
    flask_app = Flask("fake_connect_app")

    @flask_app.route("/<path:path>", methods=["GET", "POST"])
    def _any(path: str) -> Response:
        return recorder.handle("/" + path)

    server, thread, port = serve(flask_app)
    recorder.base_url = f"http://127.0.0.1:{port}"
    yield recorder
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


@pytest.fixture
def installed(sandbox: RunningSandbox, fake_app: FakeApp) -> tuple[RunningSandbox, FakeApp]:
    """The fake app installed on site alpha."""
    result = control(
        sandbox, "POST", "/install", site="alpha", descriptor_url=fake_app.descriptor_url
    )
    assert result["installed"], result
    return sandbox, fake_app


def control(sb: RunningSandbox, method: str, path: str, expect: int = 200, **body: Any) -> Any:
    """Call the control API and check the status."""
    response = requests.request(method, f"{sb.url}/sandbox{path}", json=body or None, timeout=10)
    assert response.status_code == expect, (response.status_code, response.text)
    return response.json() if response.content else None


def app_token(
    secret: str, method: str, relative_url: str, issuer: str = APP_KEY, lifetime: int = 60
) -> str:
    """The HS256 token an app puts on its REST calls."""
    now = int(time.time())
    claims = {
        "iss": issuer,
        "iat": now,
        "exp": now + lifetime,
        "qsh": hash_url(method, relative_url),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def app_call(
    sb: RunningSandbox,
    method: str,
    relative_url: str,
    site: str = "alpha",
    token: str | None = None,
    **kwargs: Any,
) -> requests.Response:
    """An app's signed REST call to a site (`relative_url` like `/rest/api/3/myself`)."""
    if token is None:
        token = app_token(sb.shared_secret(site, APP_KEY), method, relative_url)
    headers = {"Authorization": f"JWT {token}", **kwargs.pop("headers", {})}
    timeout = kwargs.pop("timeout", 10)
    url = sb.site_url(site) + relative_url
    return requests.request(method, url, headers=headers, timeout=timeout, **kwargs)


def wait_idle(sb: RunningSandbox, timeout: float = 10) -> dict[str, Any]:
    result = control(sb, "POST", "/deliveries/wait", timeout=timeout)
    assert result["idle"], result
    return result


def install_key(sb: RunningSandbox, token: str) -> str:
    """The PEM the sandbox's key server gives for the token's kid."""
    kid = jwt.get_unverified_header(token)["kid"]
    response = requests.get(f"{sb.url}/connect-keys/{kid}", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def bearer(received: Received) -> str:
    header = received.headers["Authorization"]
    assert header.startswith("JWT ")
    return header[4:]


CLIENT_ID = "tandem-oauth-test"
CLIENT_SECRET = "s3cret-for-tests-only-0123456789abcdef"
REDIRECT_URI = "http://127.0.0.1:8000/oauth/callback"
ALL_SCOPES = ("read:jira-work", "write:jira-work", "read:jira-user", "manage:jira-webhook")


@pytest.fixture
def oauth_client(sandbox: RunningSandbox) -> RunningSandbox:
    """The sandbox with one OAuth 2.0 app registered."""
    sandbox.register_oauth_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI], "Tandem (OAuth)")
    return sandbox


@pytest.fixture
def connected(oauth_client: RunningSandbox) -> tuple[RunningSandbox, dict[str, Any]]:
    """The OAuth app consented to on site beta with every scope; its token response."""
    tokens = oauth_client.connect_oauth(
        CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, ALL_SCOPES, sites=("beta",)
    )
    return oauth_client, tokens


def oauth_call(
    sb: RunningSandbox,
    method: str,
    path: str,
    access_token: str,
    site: str = "beta",
    **kwargs: Any,
) -> requests.Response:
    """An OAuth app's REST call through the gateway URL (`path` like `/rest/api/3/myself`)."""
    headers = {"Authorization": f"Bearer {access_token}", **kwargs.pop("headers", {})}
    return requests.request(
        method, sb.gateway_url(site) + path, headers=headers, timeout=10, **kwargs
    )


def token_call(sb: RunningSandbox, **params: str) -> requests.Response:
    """`POST /oauth/token` with a JSON body."""
    return requests.post(f"{sb.url}/oauth/token", json=params, timeout=10)


def refresh(sb: RunningSandbox, refresh_token: str) -> requests.Response:
    return token_call(
        sb,
        grant_type="refresh_token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=refresh_token,
    )
