"""Errors reach a self-hosted Sentry-compatible endpoint, with every secret scrubbed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import jwt as pyjwt
import pytest
import requests
import sentry_sdk
from flask import Flask, request
from rq import Queue, SimpleWorker
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.rq import RqIntegration

import rq_worker
from app import create_app
from config import ConfigError, Settings, load_settings
from observability.error_tracking import init_error_tracking, stop_error_tracking
from observability.scrub import (
    SCRUBBED,
    UNSCRUBBABLE,
    is_sensitive_name,
    scrub_breadcrumb,
    scrub_event,
    scrub_text,
)
from runtime import Runtime
from tests.support.http_server import serving
from tests.support.sentry_endpoint import PUBLIC_KEY, FakeSentry, fake_sentry

BASE = {"DATABASE_URL": "postgresql://app@localhost/tandem"}
CONNECT_JWT = pyjwt.encode(
    {"iss": "client-key-1", "qsh": "abc", "exp": 2_000_000_000},
    "shared-secret-1-" + "x" * 32,
    "HS256",
)
QUERY_JWT = pyjwt.encode({"iss": "client-key-2", "sub": "557058:abc"}, "other-" + "y" * 32, "HS256")
FORGE_TOKEN = "forge-oauth-system-token-d41d8cd98f00b204"
SHARED_SECRET = "connect-shared-secret-7f9a2c"
COOKIE_SESSION = "session-cookie-value-0b1c2d"
EMAIL = "bob.reporter@example.com"
QUEUE = "error-tracking-test"


@pytest.fixture(autouse=True)
def no_error_tracking_left_over() -> Iterator[None]:
    """Every test starts and ends with the SDK detached, so no other test reports."""
    stop_error_tracking()
    yield
    stop_error_tracking()


def hostile_event() -> dict[str, Any]:
    """An event as the SDK hands it to ``before_send``, with a secret in every corner."""
    return {
        "level": "error",
        "message": f"sync failed for {EMAIL}",
        "logentry": {"message": "login %s", "params": [EMAIL], "formatted": f"login {EMAIL}"},
        "request": {
            "url": "https://tandem.example/connect/webhooks/issue-created",
            "method": "POST",
            "query_string": f"jwt={QUERY_JWT}&lic=active&access_token=at-123&user_key=u1",
            "headers": {
                "Authorization": f"JWT {CONNECT_JWT}",
                "Cookie": f"session={COOKIE_SESSION}",
                "Set-Cookie": f"session={COOKIE_SESSION}; HttpOnly",
                "X-Forge-Oauth-System": FORGE_TOKEN,
                "X-Forge-Oauth-User": FORGE_TOKEN + "-user",
                "X-Atlassian-Webhook-Identifier": "hook-1",
                "Content-Type": "application/json",
            },
            "cookies": {"session": COOKIE_SESSION, "theme": "dark"},
            "data": {
                "issue": {"key": "ALP-1", "fields": {"summary": "keep me", "reporter": EMAIL}},
                "sharedSecret": SHARED_SECRET,
                "oauth": {"clientSecret": "cs-999", "refresh_token": "rt-888", "password": "pw"},
            },
        },
        "extra": {
            "dsn": "https://abc@sentry.example/1",
            "raw_body": json.dumps({"secret": SHARED_SECRET, "who": EMAIL, "n": 1}),
            "database": "postgresql://tandem_app:db-pass-42@db.internal:5432/tandem",
            EMAIL: "an email as a key",
        },
        "contexts": {
            "keys": {"TANDEM_KEK_KEYS": "k1=AAAA", "dek": "d-bytes", "private_key": "-----BEGIN"},
            "runtime": {"name": "CPython", "version": "3.11.9"},
        },
        "tags": {"component": "web", "session_id": "sess-ion-4711"},
        "breadcrumbs": {
            "values": [
                {"category": "httplib", "data": {"url": f"https://jira.example/x?jwt={QUERY_JWT}"}},
                {"category": "log", "message": "calling Jira with Bearer ya29.a0AfH6SMB-token"},
                {"category": "log", "message": "token refreshed: {'access_token': 'at-777'}"},
            ]
        },
        "exception": {
            "values": [
                {
                    "type": "PermissionError",
                    "module": "builtins",
                    "value": f"{EMAIL} may not sync; Authorization: JWT {CONNECT_JWT}",
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "reconcile_issue",
                                "module": "sync.reconcile",
                                "lineno": 12,
                                "vars": {
                                    "shared_secret": f"'{SHARED_SECRET}'",
                                    "headers": {"Authorization": f"'Bearer {FORGE_TOKEN}'"},
                                    "payload": f"{{'token': '{FORGE_TOKEN}', 'key': 'ALP-1'}}",
                                    "issue_key": "'ALP-1'",
                                },
                            }
                        ]
                    },
                }
            ]
        },
    }


SECRETS = (
    CONNECT_JWT,
    QUERY_JWT,
    FORGE_TOKEN,
    SHARED_SECRET,
    COOKIE_SESSION,
    EMAIL,
    "at-123",
    "cs-999",
    "rt-888",
    "abc@sentry.example",
    "db-pass-42",
    "k1=AAAA",
    "d-bytes",
    "-----BEGIN",
    "ya29.a0AfH6SMB-token",
    "at-777",
    "sess-ion-4711",
)


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_the_scrubber_removes_every_secret_and_keeps_the_rest() -> None:
    event = scrub_event(hostile_event(), {})
    text = json.dumps(event)
    assert leaks(text) == []
    assert "bob.reporter" not in text
    request_ = event["request"]
    for header in ("Authorization", "Cookie", "Set-Cookie", "X-Forge-Oauth-System"):
        assert request_["headers"][header] == SCRUBBED
    assert request_["headers"]["X-Atlassian-Webhook-Identifier"] == "hook-1"
    assert request_["cookies"] == SCRUBBED
    assert "lic=active" in request_["query_string"]
    assert "user_key=u1" in request_["query_string"]
    assert request_["data"]["issue"]["key"] == "ALP-1"
    assert request_["data"]["issue"]["fields"]["summary"] == "keep me"
    assert request_["data"]["sharedSecret"] == SCRUBBED
    assert json.loads(event["extra"]["raw_body"])["n"] == 1
    assert "db.internal:5432" in event["extra"]["database"]
    assert event["contexts"]["runtime"]["version"] == "3.11.9"
    assert event["tags"]["component"] == "web"
    exception = event["exception"]["values"][0]
    assert exception["type"] == "PermissionError"
    assert exception["value"].endswith(f"may not sync; Authorization: {SCRUBBED}")
    frame = exception["stacktrace"]["frames"][0]
    assert frame["function"] == "reconcile_issue"
    assert frame["vars"]["issue_key"] == "'ALP-1'"
    assert "'key': 'ALP-1'" in frame["vars"]["payload"]


def test_the_input_event_is_not_mutated() -> None:
    event = hostile_event()
    scrub_event(event, {})
    assert event == hostile_event()


@pytest.mark.parametrize(
    "text",
    [
        CONNECT_JWT,
        f"jwt={CONNECT_JWT}",
        f"Authorization: JWT {CONNECT_JWT}",
        f"({CONNECT_JWT})",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",  # alg none: an empty signature
        "Bearer abc",
        "bearer ya29.a0AfH6SMB",
        "Basic dXNlcjpwYXNzd29yZA==",
        "refresh_token=rt-1",
        '"client_secret": "cs-1"',
        "https://user:pw-1@host.example/path",
        "write to Ann.Lee+jira@sub.example.co.uk now",
    ],
)
def test_credentials_and_emails_in_text_are_replaced(text: str) -> None:
    scrubbed = scrub_text(text)
    assert SCRUBBED in scrubbed
    for fragment in ("eyJ", "abc", "ya29", "dXNl", "rt-1", "cs-1", "pw-1", "Ann.Lee"):
        assert fragment not in scrubbed, (text, scrubbed)


@pytest.mark.parametrize(
    "text",
    [
        "sync.inbox.record_arrivals",
        "sentry_sdk.integrations.flask",
        "version 2.15.1 on 127.0.0.1:8000",
        "https://api.atlassian.com/ex/jira/abc/rest/api/3/issue/ALP-1",
        "issue ALP-1 moved to Done",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub_text(text) == text


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "Cookie",
        "Set-Cookie",
        "X-Forge-Oauth-System",
        "x-forge-oauth-user",
        "sharedSecret",
        "shared_secret",
        "client_secret",
        "access_token",
        "refreshToken",
        "password",
        "passwd",
        "jwt",
        "session_id",
        "SENTRY_DSN",
        "TANDEM_KEK_KEYS",
        "dek",
        "privateKey",
        "api_key",
    ],
)
def test_sensitive_names(name: str) -> None:
    assert is_sensitive_name(name)


@pytest.mark.parametrize("name", ["key", "issue_key", "summary", "status", "lic", "url", 3])
def test_ordinary_names(name: object) -> None:
    assert not is_sensitive_name(name)


class Hostile:
    """An object whose repr and comparisons blow up (as frame locals sometimes do)."""

    def __repr__(self) -> str:
        raise RuntimeError(EMAIL)

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing")

    __hash__ = object.__hash__


def test_the_scrubber_never_raises_and_replaces_only_the_broken_part() -> None:
    deep: list[Any] = []
    node = deep
    for _ in range(5000):
        node.append([])
        node = node[0]
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = loop
    event = {
        "message": f"hello {EMAIL}",
        "extra": {
            "bad_repr": Hostile(),
            "token": Hostile(),
            "deep": deep,
            "loop": loop,
            "raw": b"password=hunter2",
            "deep_json": "[" * 5000 + "]" * 5000,
            7: "int key",
        },
        "exception": {"values": [{"type": "ValueError", "value": "ok"}]},
    }
    scrubbed = scrub_event(event, {})
    text = json.dumps(scrubbed, default=str)
    assert "hunter2" not in text and EMAIL not in text
    assert scrubbed["exception"]["values"][0] == {"type": "ValueError", "value": "ok"}
    assert scrubbed["extra"]["bad_repr"] == UNSCRUBBABLE
    assert scrubbed["extra"]["token"] == UNSCRUBBABLE
    assert scrubbed["extra"][7] == "int key"
    assert UNSCRUBBABLE in text  # the deep list and the loop end in a marker
    assert scrubbed["extra"]["loop"]["name"] == "loop"
    assert scrub_event("not an event", {}) == {"level": "error", "message": UNSCRUBBABLE}  # type: ignore[arg-type]


def test_breadcrumbs_are_scrubbed_and_keep_their_timestamp() -> None:
    stamp = datetime.now(UTC)
    crumb = scrub_breadcrumb(
        {"timestamp": stamp, "category": "log", "message": f"mail {EMAIL}", "data": {"jwt": "x"}},
        {},
    )
    assert crumb == {
        "timestamp": stamp,
        "category": "log",
        "message": f"mail {SCRUBBED}",
        "data": {"jwt": SCRUBBED},
    }


def test_sentry_settings_are_validated_and_never_echo_the_key() -> None:
    assert load_settings(BASE).sentry_dsn == ""
    assert not load_settings(BASE).error_tracking_configured
    good = load_settings(
        {**BASE, "SENTRY_DSN": "http://k3y@127.0.0.1:9000/7", "TANDEM_ENV": "test"}
    )
    assert good.error_tracking_configured and good.sentry_environment == "test"
    assert "k3y" not in repr(good)
    named = load_settings(
        {**BASE, "SENTRY_DSN": "https://k@s.example/1", "SENTRY_ENVIRONMENT": "eu"}
    )
    assert named.sentry_environment == "eu"
    for bad in (
        "sentry.example/1",
        "ftp://k3y@s.example/1",
        "https://s.example/1",
        "https://k3y@s.example/",
        "https://k3y@s.example:port/1",
    ):
        with pytest.raises(ConfigError, match="SENTRY_DSN") as raised:
            load_settings({**BASE, "SENTRY_DSN": bad})
        assert "k3y" not in str(raised.value) and "\n" not in str(raised.value)
    production = {
        **BASE,
        "TANDEM_ENV": "production",
        "TANDEM_KEK_KEYS": "k=" + "A" * 44,
        "TANDEM_BASE_URL": "https://t.example",
        "TANDEM_SECRET_KEY": "s" * 32,
    }
    assert load_settings({**production, "SENTRY_DSN": "https://k@s.example/1"}).sentry_dsn
    with pytest.raises(ConfigError, match="production needs SENTRY_DSN to be an https"):
        load_settings({**production, "SENTRY_DSN": "http://k@s.example/1"})


def test_without_a_dsn_nothing_is_set_up(settings: Settings) -> None:
    assert not init_error_tracking(settings, "web")
    app = create_app(settings)
    assert not sentry_sdk.get_client().is_active()
    app.extensions["tandem"].close()


def the_event(sentry: FakeSentry) -> dict[str, Any]:
    sentry_sdk.flush(timeout=5)
    events = sentry.events()
    assert len(events) == 1, f"expected one event, got {len(events)}"
    return events[0]


def test_a_web_error_reaches_the_endpoint_scrubbed(settings: Settings) -> None:
    with fake_sentry() as sentry:
        app = create_app(replace(settings, sentry_dsn=sentry.dsn))

        @app.get("/test-only/boom")
        def boom() -> str:
            shared_secret = SHARED_SECRET  # a frame local the SDK would send
            raise LookupError(f"no link for {EMAIL} ({len(shared_secret)}) via {request.path}")

        response = app.test_client().get(
            f"/test-only/boom?jwt={QUERY_JWT}&lic=active",
            headers={
                "Authorization": f"JWT {CONNECT_JWT}",
                "Cookie": f"session={COOKIE_SESSION}; theme=dark",
                "X-Forge-Oauth-System": FORGE_TOKEN,
            },
        )
        assert response.status_code == 500
        assert response.json == {
            "error": "Internal Server Error",
            "message": "something went wrong on our side",
        }
        event = the_event(sentry)
        raw = sentry.raw()
        app.extensions["tandem"].close()
    assert event["exception"]["values"][-1]["type"] == "LookupError"
    assert "no link for" in event["exception"]["values"][-1]["value"]
    assert event["request"]["url"].endswith("/test-only/boom")
    assert "lic=active" in event["request"]["query_string"]
    assert event["tags"]["component"] == "web"
    assert event["environment"] == "test"
    assert PUBLIC_KEY in sentry.envelopes[0].auth
    client = sentry_sdk.get_client()
    assert not client.should_send_default_pii()
    assert client.get_integration(FlaskIntegration) is not None
    assert client.get_integration(RqIntegration) is None
    assert leaks(raw) == []
    assert "bob.reporter" not in raw


def failing_job(token: str, shared_secret: str, note: str) -> None:
    """An RQ job that fails with credentials in its arguments, locals and message."""
    authorization = f"Bearer {token}"
    raise PermissionError(f"Jira answered 401 for {note}; sent {authorization[:6]}")


def test_a_worker_job_error_reaches_the_endpoint_scrubbed(
    settings: Settings, runtime: Runtime
) -> None:
    queue = Queue(QUEUE, connection=runtime.redis)
    queue.empty()
    with fake_sentry() as sentry:
        assert init_error_tracking(replace(settings, sentry_dsn=sentry.dsn), "worker")
        job = queue.enqueue(
            failing_job, CONNECT_JWT, shared_secret=SHARED_SECRET, note=f"ask {EMAIL}"
        )
        SimpleWorker([queue], connection=runtime.redis).work(burst=True)
        assert job.get_status(refresh=True) == "failed"
        event = the_event(sentry)
        raw = sentry.raw()
    exception = event["exception"]["values"][-1]
    assert exception["type"] == "PermissionError"
    assert exception["mechanism"]["type"] == "rq"
    assert event["extra"]["rq-job"]["job_id"] == job.id
    assert event["tags"]["component"] == "worker"
    assert leaks(raw) == []
    assert "bob.reporter" not in raw
    queue.empty()


def test_stopping_detaches_the_sdk(settings: Settings) -> None:
    with fake_sentry() as sentry:
        assert init_error_tracking(replace(settings, sentry_dsn=sentry.dsn), "clock")
        assert sentry_sdk.get_client().is_active()
        stop_error_tracking()
        sentry_sdk.capture_message(f"after stop {EMAIL}")
        sentry_sdk.flush(timeout=2)
        assert sentry.events() == []
    assert not sentry_sdk.get_client().is_active()


@pytest.mark.parametrize("component", ["worker", "clock"])
def test_the_worker_and_clock_entry_points_turn_it_on(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, component: str
) -> None:
    started: list[str] = []
    monkeypatch.setattr(rq_worker, "run_worker", lambda *args: started.append("worker"))
    monkeypatch.setattr(rq_worker, "run_clock", lambda *args: started.append("clock"))
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    assert rq_worker.main([component]) == 0
    assert not sentry_sdk.get_client().is_active(), "no SENTRY_DSN, no error tracking"
    with fake_sentry() as sentry:
        monkeypatch.setenv("SENTRY_DSN", sentry.dsn)
        assert rq_worker.main([component]) == 0
        client = sentry_sdk.get_client()
        assert client.is_active() and client.get_integration(RqIntegration) is not None
        assert client.get_integration(FlaskIntegration) is None
        sentry_sdk.capture_message(f"hello from {EMAIL}")
        event = the_event(sentry)
    assert started == [component, component]
    assert event["tags"]["component"] == component
    assert event["message"] == f"hello from {SCRUBBED}"


def test_no_trace_headers_ride_on_outgoing_calls(settings: Settings) -> None:
    seen: list[dict[str, str]] = []
    jira = Flask("fake-jira")

    @jira.get("/rest/api/3/myself")
    def myself() -> str:
        seen.append(dict(request.headers))
        return "{}"

    with fake_sentry() as sentry, serving(jira) as base_url:
        assert init_error_tracking(replace(settings, sentry_dsn=sentry.dsn), "worker")
        assert requests.get(f"{base_url}/rest/api/3/myself", timeout=5).status_code == 200
    assert seen and not {"sentry-trace", "baggage", "traceparent"} & {k.lower() for k in seen[0]}
