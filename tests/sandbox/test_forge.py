"""The sandbox's Forge mode over real HTTP: a recording remote gets FITs that verify
against the served JWKS, Forge-shaped events with the app system token, and the gateway
takes that token for its site and scopes only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import requests
from flask import Flask, Response, request
from werkzeug.serving import make_server

from sandbox.testing import RunningSandbox, running_sandbox

APP_ID = "ari:cloud:ecosystem::app/9a8b7c6d-5e4f-4321-8765-0fedcba98765"
SECURED = {"appSystemToken": {"enabled": True}}


@dataclass
class Remote:
    url: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def remote() -> Iterator[Remote]:
    found = Remote()
    app = Flask("forge-remote")

    @app.route("/<path:path>", methods=["GET", "POST"])
    def record(path: str) -> Response:
        found.calls.append(
            {
                "path": f"/{path}",
                "headers": dict(request.headers),
                "body": request.get_json(silent=True),
            }
        )
        return Response(status=204)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    found.url = f"http://127.0.0.1:{server.server_port}"
    yield found
    server.shutdown()


def manifest(scopes: list[str]) -> dict[str, Any]:
    def endpoint(key: str, path: str) -> dict[str, Any]:
        return {"key": key, "remote": "r", "route": {"path": path}, "auth": SECURED}

    return {
        "app": {"id": APP_ID, "name": "Recorder"},
        "remotes": [{"key": "r", "baseUrl": "${BASE}", "auth": SECURED}],
        "modules": {
            "endpoint": [endpoint("life", "/life"), endpoint("events", "/events")],
            "trigger": [
                {"key": "l", "endpoint": "life", "events": ["avi:forge:installed:app"]},
                {
                    "key": "e",
                    "endpoint": "events",
                    "events": ["avi:jira:created:issue", "avi:jira:commented:issue"],
                    "filter": {"ignoreSelf": True},
                },
            ],
        },
        "permissions": {"scopes": scopes},
    }


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox(sites=("alpha", "beta"), seed="forge-mode") as sb:
        yield sb


def _install(sandbox: RunningSandbox, remote: Remote, scopes: list[str]) -> dict[str, Any]:
    return sandbox.forge_install("alpha", manifest(scopes), {"BASE": remote.url})


def test_the_installed_event_carries_a_fit_that_verifies_against_the_jwks(
    sandbox: RunningSandbox, remote: Remote
) -> None:
    installed = _install(sandbox, remote, ["read:jira-work"])
    assert installed["status"] == 204
    [call] = remote.calls
    assert call["path"] == "/life" and call["body"]["eventType"] == "avi:forge:installed:app"
    token = call["headers"]["Authorization"].removeprefix("Bearer ")
    kid = jwt.get_unverified_header(token)["kid"]
    jwks = requests.get(sandbox.forge_jwks_url, timeout=5).json()
    key = jwt.PyJWKSet.from_dict(jwks)[kid].key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=APP_ID)
    assert claims["iss"] == "forge/invocation-token"
    assert claims["app"]["installationId"] == installed["installationId"]
    assert claims["context"]["cloudId"] == sandbox.cloud_id("alpha")
    assert claims["app"]["apiBaseUrl"] == sandbox.gateway_url("alpha")
    assert "x-forge-oauth-system" in {h.lower() for h in call["headers"]}


def test_events_come_in_forges_shape_and_the_token_works_on_its_site_only(
    sandbox: RunningSandbox, remote: Remote
) -> None:
    _install(sandbox, remote, ["read:jira-work"])
    issue = sandbox.control("POST", "/sites/alpha/issues", {"summary": "hi"})
    sandbox.control("POST", f"/sites/alpha/issues/{issue['key']}/comments", {"body": "c"})
    assert sandbox.wait_for_deliveries(10)["idle"]
    # Deliveries run concurrently, so the two may arrive in either order.
    events = sorted(
        (c for c in remote.calls if c["path"] == "/events"),
        key=lambda e: e["body"]["eventType"] != "avi:jira:created:issue",
    )
    assert [e["body"]["eventType"] for e in events] == [
        "avi:jira:created:issue",
        "avi:jira:commented:issue",
    ], "no issue_updated twin of the comment"
    assert events[0]["body"]["issue"]["key"] == issue["key"]
    assert events[0]["body"]["selfGenerated"] is False
    token = events[0]["headers"]["X-Forge-Oauth-System"]
    auth = {"Authorization": f"Bearer {token}"}
    path = f"/rest/api/3/issue/{issue['key']}"
    ok = requests.get(f"{sandbox.gateway_url('alpha')}{path}", headers=auth, timeout=5)
    assert ok.status_code == 200
    other = requests.get(f"{sandbox.gateway_url('beta')}{path}", headers=auth, timeout=5)
    assert other.status_code == 401, "another site's API"
    write = requests.put(
        f"{sandbox.gateway_url('alpha')}{path}",
        json={"fields": {"summary": "x"}},
        headers=auth,
        timeout=5,
    )
    assert write.status_code == 401 and "scope" in write.text, "the manifest's scopes only"
    sandbox.control("POST", "/forge/tokens/revoke", {"site": "alpha", "app_id": APP_ID})
    gone = requests.get(f"{sandbox.gateway_url('alpha')}{path}", headers=auth, timeout=5)
    assert gone.status_code == 401


def test_the_apps_own_changes_are_not_sent_back_with_ignore_self(
    sandbox: RunningSandbox, remote: Remote
) -> None:
    _install(sandbox, remote, ["read:jira-work", "write:jira-work"])
    install = sandbox.sandbox.forge.installation("alpha", APP_ID)
    token = sandbox.sandbox.forge.token_for(install)
    created = requests.post(
        f"{sandbox.gateway_url('alpha')}/rest/api/3/issue",
        json={
            "fields": {"project": {"key": "ALP"}, "issuetype": {"name": "Task"}, "summary": "me"}
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert created.status_code == 201
    assert sandbox.wait_for_deliveries(10)["idle"]
    assert not [c for c in remote.calls if c["path"] == "/events"]
