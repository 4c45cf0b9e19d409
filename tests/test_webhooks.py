"""Webhooks are durable before they are acknowledged, exactly once, and never lost."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace

import pytest
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from sqlalchemy import select
from sqlalchemy.exc import DataError
from werkzeug.test import TestResponse

import runtime as runtime_module
from app import create_app
from models.lifecycle import find_installation
from models.webhook_events import WebhookEvent
from runtime import Runtime
from sync.inbox import QUEUE, Arrival, job_id_for, record_arrivals, sweep_pending
from sync.sites import app_account_key
from tests.connect_fixtures import ConnectWorld
from tests.support.connect_tokens import secret_token

WEBHOOK = "/connect/webhooks/issue-created"


def body(key: str = "ALP-1") -> dict:
    return {
        "timestamp": int(time.time() * 1000),
        "webhookEvent": "jira:issue_created",
        "issue_event_type_name": "issue_created",
        "issue": {"id": "10001", "key": key, "fields": {"summary": "hello " + "x" * 3000}},
    }


def post(
    client: FlaskClient,
    client_key: str,
    secret: str,
    payload: dict | str,
    identifier: str | None,
    path: str = WEBHOOK,
) -> TestResponse:
    headers = {"Authorization": f"JWT {secret_token(secret, client_key, 'POST', path)}"}
    if identifier is not None:
        headers["X-Atlassian-Webhook-Identifier"] = identifier
    data = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return client.post(path, data=data, headers=headers, content_type="application/json")


@pytest.fixture
def site(connect_world: ConnectWorld, runtime: Runtime, monkeypatch: pytest.MonkeyPatch):
    """An installed site, an empty webhooks queue, and jobs that use the test runtime."""
    monkeypatch.setattr(runtime_module, "_process_runtime", runtime)
    Queue(QUEUE, connection=runtime.redis).empty()
    _, client_key, secret = connect_world.install()
    tenant_id = runtime.db.directory_lookup("connect_client_key", client_key)
    return client_key, secret, tenant_id


def events(runtime: Runtime, tenant_id: uuid.UUID) -> list[WebhookEvent]:
    with runtime.db.tenant_session(tenant_id) as session:
        return list(session.execute(select(WebhookEvent)).scalars())


def run_worker(runtime: Runtime) -> None:
    SimpleWorker([Queue(QUEUE, connection=runtime.redis)], connection=runtime.redis).work(
        burst=True
    )


def test_accepted_once_processed_once(connect_world: ConnectWorld, runtime: Runtime, site) -> None:
    client_key, secret, tenant_id = site
    identifier = f"hook-{uuid.uuid4()}"
    first = post(connect_world.client, client_key, secret, body(), identifier)
    assert first.status_code == 202, first.json
    assert Queue(QUEUE, connection=runtime.redis).count == 1
    again = post(connect_world.client, client_key, secret, body(), identifier)
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    assert Queue(QUEUE, connection=runtime.redis).count == 1, "a duplicate enqueues nothing"
    run_worker(runtime)
    (event,) = events(runtime, tenant_id)
    assert (event.status, event.job_runs, event.identifier) == ("processed", 1, identifier)


@pytest.mark.parametrize(
    ("payload", "identifier", "status", "reason"),
    [
        ("{not json", "id-1", 400, "invalid webhook body"),
        ({"webhookEvent": "jira:issue_created"}, "id-2", 400, "timestamp"),
        ({**body(), "issue": {"id": "x", "key": "ALP-1"}}, "id-3", 400, "issue/id"),
        ({**body(), "webhookEvent": "comment_created"}, "id-4", 400, "comment"),
        (
            {**body(), "webhookEvent": "jira:issue_deleted"},
            "id-5",
            400,
            "must be 'jira:issue_created'",
        ),
        (body(), None, 400, "X-Atlassian-Webhook-Identifier"),
        (
            '{"webhookEvent": "jira:issue_created", "timestamp": 1, '
            '"issue": {"id": "1", "key": "ALP-1", "fields": {"summary": "a\\u0000b"}}}',
            "id-7",
            400,
            "cannot store",
        ),
        ({**body(), "padding": "y" * 70000}, "id-6", 413, "limited"),
    ],
)
def test_bad_webhooks_get_a_4xx_with_the_reason(
    connect_world: ConnectWorld, runtime: Runtime, site, payload, identifier, status, reason
) -> None:
    client_key, secret, tenant_id = site
    response = post(connect_world.client, client_key, secret, payload, identifier)
    assert response.status_code == status
    assert reason in response.json["message"]
    assert events(runtime, tenant_id) == []


def test_redis_down_keeps_the_event_and_the_sweeper_delivers_it(
    connect_world: ConnectWorld, runtime: Runtime, settings, site
) -> None:
    client_key, secret, tenant_id = site
    dead = replace(
        connect_world.app.extensions["tandem"].settings, redis_url="redis://127.0.0.1:1/0"
    )
    no_redis = create_app(dead)
    response = post(no_redis.test_client(), client_key, secret, body(), "during-outage")
    no_redis.extensions["tandem"].close()
    assert response.status_code == 202, "acknowledged: the row is committed"
    (event,) = events(runtime, tenant_id)
    assert event.status == "pending"
    assert sweep_pending(runtime, older_than_seconds=0) >= 1
    run_worker(runtime)
    (event,) = events(runtime, tenant_id)
    assert (event.status, event.job_runs) == ("processed", 1)


def test_database_down_answers_503(connect_world: ConnectWorld, site) -> None:
    client_key, secret, _ = site
    settings = connect_world.app.extensions["tandem"].settings
    no_db = create_app(replace(settings, database_url="postgresql://x@127.0.0.1:1/none"))
    response = post(no_db.test_client(), client_key, secret, body(), "db-down")
    no_db.extensions["tandem"].close()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_events_of_an_uninstalled_installation_are_skipped(
    connect_world: ConnectWorld, runtime: Runtime, site
) -> None:
    client_key, secret, tenant_id = site
    assert post(connect_world.client, client_key, secret, body(), "before").status_code == 202
    connect_world.uninstall(client_key)
    run_worker(runtime)
    (event,) = events(runtime, tenant_id)
    assert event.status == "skipped"
    late = post(connect_world.client, client_key, secret, body(), "after")
    assert late.status_code == 401


def test_a_batch_keeps_each_webhooks_own_outcome(
    connect_world: ConnectWorld, runtime: Runtime, site
) -> None:
    """One group-committed batch: two tenants, a repeat within the batch, one identifier
    stored before and one body PostgreSQL refuses; each arrival gets its own answer."""
    _, _, tenant_a = site
    _, other_key, _ = connect_world.install()
    tenant_b = runtime.db.directory_lookup("connect_client_key", other_key)
    installation_a = installation_of(runtime, site[0])
    installation_b = installation_of(runtime, other_key)

    def arrival(tenant, installation, identifier, text="ok") -> Arrival:
        payload = json.dumps({**body(), "note": text}).replace("NUL", "\\u0000")
        return Arrival(tenant, identifier, "jira:issue_created", payload, installation)

    (stored,) = record_arrivals(runtime, [arrival(tenant_a, installation_a, "seen")])
    outcomes = record_arrivals(
        runtime,
        [
            arrival(tenant_a, installation_a, "a1"),
            arrival(tenant_b, installation_b, "b1"),
            arrival(tenant_a, installation_a, "a1"),  # the same delivery twice in one batch
            arrival(tenant_a, installation_a, "seen"),
            arrival(tenant_a, installation_a, "bad", "NUL"),
            arrival(tenant_b, installation_b, "a1"),  # identifiers are per tenant
        ],
    )
    a1, b1, repeat, seen, bad, b_a1 = outcomes
    assert isinstance(a1, uuid.UUID) and isinstance(b1, uuid.UUID) and isinstance(b_a1, uuid.UUID)
    assert (repeat, seen) == (None, None)
    assert isinstance(bad, DataError)
    assert sorted(e.identifier for e in events(runtime, tenant_a)) == ["a1", "seen"]
    assert sorted(e.identifier for e in events(runtime, tenant_b)) == ["a1", "b1"]
    queued = set(Queue(QUEUE, connection=runtime.redis).job_ids)
    assert queued == {job_id_for(e) for e in (stored, a1, b1, b_a1)}, "one job per new event"


def installation_of(runtime: Runtime, client_key: str) -> uuid.UUID:
    found = find_installation(runtime.db, runtime.keys, client_key)
    assert found is not None
    return found.installation_id


def test_the_echo_of_our_own_write_is_answered_without_a_row_or_job(
    connect_world: ConnectWorld, runtime: Runtime, site
) -> None:
    client_key, secret, tenant_id = site
    installation = installation_of(runtime, client_key)
    runtime.redis.set(app_account_key(installation), "app-account-1", ex=60)
    ours = {**body(), "user": {"accountId": "app-account-1"}}
    theirs = {**body(), "user": {"accountId": "someone-else"}}
    echo = post(connect_world.client, client_key, secret, ours, "echo-1")
    assert (echo.status_code, echo.json["status"]) == (200, "own-change")
    assert events(runtime, tenant_id) == []
    assert Queue(QUEUE, connection=runtime.redis).count == 0
    human = post(connect_world.client, client_key, secret, theirs, "human-1")
    assert human.status_code == 202
    assert [e.identifier for e in events(runtime, tenant_id)] == ["human-1"]
