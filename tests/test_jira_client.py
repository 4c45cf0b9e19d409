"""The Jira client against real HTTP: the sandbox for signed calls, and a scripted
server for Retry-After, back-off and error classes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask, Response, jsonify, request

from jira.client import JiraClient
from jira.errors import AuthorizationError, PermanentError, TransientError
from jira.signing import ConnectCredentials
from runtime import Runtime
from sandbox.testing import running_sandbox
from tests.support.http_server import serving

APP_KEY = "io.tandem.client-test"


def _app_side() -> Flask:
    """A minimal Connect app the sandbox can install (it answers every lifecycle call)."""
    app = Flask("app-side")

    @app.get("/atlassian-connect.json")
    def descriptor() -> Response:
        base = request.host_url.rstrip("/")
        return jsonify(
            key=APP_KEY,
            baseUrl=base,
            authentication={"type": "jwt"},
            lifecycle={"installed": "/installed", "uninstalled": "/uninstalled"},
            scopes=["READ", "WRITE", "DELETE"],
            modules={},
        )

    @app.post("/installed")
    @app.post("/uninstalled")
    def lifecycle() -> tuple[str, int]:
        return "", 204

    return app


@pytest.fixture(scope="module")
def site() -> Iterator[ConnectCredentials]:
    with serving(_app_side()) as app_url, running_sandbox(sites=("alpha",)) as sandbox:
        result = sandbox.install("alpha", f"{app_url}/atlassian-connect.json")
        assert result["installed"], result
        yield ConnectCredentials(
            sandbox.site_url("alpha"), APP_KEY, sandbox.shared_secret("alpha", APP_KEY)
        )


def test_signed_calls_round_trip_through_the_sandbox(site: ConnectCredentials) -> None:
    client = JiraClient(site)
    assert client.call("myself").json()["accountType"] == "app"
    created = client.call(
        "create_issue",
        json={
            "fields": {
                "project": {"key": "ALP"},
                "summary": "from the client",
                "issuetype": {"name": "Task"},
            }
        },
    ).json()
    client.call(
        "edit_issue", path_params={"key": created["key"]}, json={"fields": {"summary": "edited"}}
    )
    issue = client.call(
        "get_issue", path_params={"key": created["key"]}, params={"fields": "summary,labels"}
    ).json()
    assert issue["fields"]["summary"] == "edited"
    assert client.meter.calls == 4 and client.meter.by_call["get_issue"] == 1


def test_missing_issue_is_permanent_with_jiras_reason(site: ConnectCredentials) -> None:
    with pytest.raises(PermanentError, match="404") as error:
        JiraClient(site).call("get_issue", path_params={"key": "ALP-9999"})
    assert "does not exist" in str(error.value) or "not" in str(error.value)


def test_wrong_secret_is_an_authorization_error(site: ConnectCredentials) -> None:
    forged = ConnectCredentials(site.base_url, APP_KEY, "x" * 40)
    with pytest.raises(AuthorizationError):
        JiraClient(forged).call("myself")


def _scripted(statuses: list[tuple[int, dict[str, str]]], seen: list[float]) -> Flask:
    app = Flask("scripted")

    @app.route("/rest/api/3/myself", methods=["GET"])
    def myself() -> Response:
        seen.append(time.monotonic())
        status, headers = statuses.pop(0) if statuses else (200, {})
        body = {"errorMessages": ["scripted"]} if status >= 400 else {"accountId": "me"}
        return Response(
            jsonify(body).get_data(), status=status, headers=headers, mimetype="application/json"
        )

    return app


def test_retry_after_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[float] = []
    with serving(_scripted([(429, {"Retry-After": "1"})], seen)) as url:
        client = JiraClient(ConnectCredentials(url, APP_KEY, "s" * 32))
        assert client.call("myself").json() == {"accountId": "me"}
    assert len(seen) == 2 and seen[1] - seen[0] >= 1.0, "no request before the time it asked"
    assert client.meter.calls == 2


def test_5xx_backs_off_then_gives_up_as_transient() -> None:
    seen: list[float] = []
    delays: list[float] = []
    with serving(_scripted([(503, {})] * 10, seen)) as url:
        client = JiraClient(
            ConnectCredentials(url, APP_KEY, "s" * 32), max_attempts=4, sleep=delays.append
        )
        with pytest.raises(TransientError):
            client.call("myself")
    assert len(seen) == 4 and len(delays) == 3
    assert all(0 <= d <= 0.5 * 2**i for i, d in enumerate(delays))


def test_client_errors_are_not_retried() -> None:
    seen: list[float] = []
    with serving(_scripted([(400, {})], seen)) as url:
        with pytest.raises(PermanentError, match="scripted"):
            JiraClient(ConnectCredentials(url, APP_KEY, "s" * 32)).call("myself")
    assert len(seen) == 1


def test_connection_errors_are_transient() -> None:
    client = JiraClient(
        ConnectCredentials("http://127.0.0.1:1", APP_KEY, "s" * 32),
        max_attempts=2,
        sleep=lambda _s: None,
    )
    with pytest.raises(TransientError):
        client.call("myself")
    assert client.meter.calls == 2


def test_a_retry_after_told_to_one_worker_holds_every_worker(runtime: Runtime) -> None:
    from jira.gate import SiteGate

    seen: list[float] = []
    with serving(_scripted([(429, {"Retry-After": "1"})], seen)) as url:
        gate_key = f"{url}/gate-test-{time.time()}"
        first = JiraClient(
            ConnectCredentials(url, APP_KEY, "s" * 32), gate=SiteGate(runtime.redis, gate_key)
        )
        other = JiraClient(
            ConnectCredentials(url, APP_KEY, "s" * 32), gate=SiteGate(runtime.redis, gate_key)
        )
        told = time.monotonic()
        # The first client is told to wait; it sleeps in its own call, so run the other
        # client's call before the first retries, as a second worker would.
        first.max_attempts = 1
        with pytest.raises(TransientError):
            first.call("myself")
        assert other.call("myself").json() == {"accountId": "me"}
    assert len(seen) == 2
    assert seen[1] - told >= 0.95, "the other worker did not send before Retry-After ran out"


def test_a_wait_moved_while_holding_off_is_waited_out_too(runtime: Runtime) -> None:
    from jira.gate import SiteGate

    seen: list[float] = []
    with serving(_scripted([], seen)) as url:
        gate = SiteGate(runtime.redis, f"{url}/gate-moved-{time.time()}")
        sleeps: list[float] = []
        moved_until: list[float] = []

        def sleep(seconds: float) -> None:
            if not sleeps:  # meanwhile another worker is told to wait longer
                gate.hold(0.5)
                moved_until.append(time.monotonic() + 0.5)
            sleeps.append(seconds)
            time.sleep(seconds)

        client = JiraClient(ConnectCredentials(url, APP_KEY, "s" * 32), gate=gate, sleep=sleep)
        gate.hold(0.2)
        assert client.call("myself").json() == {"accountId": "me"}
    assert len(sleeps) == 2, "looked at the gate again after the first wait"
    assert seen[0] >= moved_until[0] - 0.01, "sent before the moved wait ran out"
