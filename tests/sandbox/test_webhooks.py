"""Webhook delivery: signing, identifier and retry headers, Jira's retry rules, redelivery,
and the shape of the bodies (v2 representation, changelog, comments)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from atlassian_jwt.url_utils import hash_url
from flask import Flask, Response

from sandbox.testing import running_sandbox
from tests.sandbox.conftest import (
    APP_KEY,
    FakeApp,
    app_call,
    bearer,
    control,
    serve,
    wait_idle,
)

HOOK = "/webhooks/jira"


def _create(sandbox, **fields):
    body = {"summary": "Printer on fire", **fields}
    return control(sandbox, "POST", "/sites/alpha/issues", 201, **body)


def _verify_webhook_token(sandbox, call) -> dict:
    inst = sandbox.state.installation("alpha", APP_KEY)
    token = bearer(call)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(
        token, inst.shared_secret, algorithms=["HS256"], options={"require": ["iat", "exp"]}
    )
    assert claims["iss"] == inst.client_key
    assert claims["qsh"] == hash_url("POST", f"{HOOK}?v=1")
    assert claims["exp"] - claims["iat"] == 180
    return claims


def test_issue_created_webhook_is_signed_and_identified(installed):
    sandbox, fake_app = installed
    issue = _create(sandbox, description="It is\n\nreally on fire", labels=["hot"])
    (call,) = fake_app.wait_for(HOOK, 1)
    _verify_webhook_token(sandbox, call)
    assert call.query == "v=1"
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["X-Atlassian-Webhook-Flow"] == "Primary"
    assert "X-Atlassian-Webhook-Retry" not in call.headers
    identifier = call.headers["X-Atlassian-Webhook-Identifier"]

    body = call.body
    assert body["webhookEvent"] == "jira:issue_created"
    assert body["issue_event_type_name"] == "issue_created"
    assert isinstance(body["timestamp"], int) and body["timestamp"] > 1_600_000_000_000
    human = sandbox.state.sites["alpha"].humans[0]
    assert body["user"]["accountId"] == human
    assert body["user"]["accountType"] == "atlassian"
    assert body["issue"]["key"] == issue["key"] == "ALP-1"
    assert body["issue"]["self"].endswith(f"/rest/api/2/issue/{issue['id']}")
    fields = body["issue"]["fields"]
    assert fields["description"] == "It is\n\nreally on fire"  # v2: wiki markup, not ADF
    assert fields["labels"] == ["hot"]
    assert fields["status"]["name"] == "To Do"
    assert fields["status"]["statusCategory"]["key"] == "new"

    wait_idle(sandbox)
    (delivery,) = control(sandbox, "GET", "/deliveries?site=alpha")
    assert delivery["identifier"] == identifier
    assert delivery["state"] == "delivered"
    assert delivery["issue_key"] == "ALP-1"
    assert delivery["url"] == f"{fake_app.base_url}{HOOK}?v=1"
    assert [a["status"] for a in delivery["attempts"]] == [204]


def test_retries_on_503_with_same_identifier(installed):
    sandbox, fake_app = installed
    fake_app.answer(HOOK, 503, 503)
    _create(sandbox)
    calls = fake_app.wait_for(HOOK, 3)
    wait_idle(sandbox)
    assert len(fake_app.calls(HOOK)) == 3
    assert len({c.headers["X-Atlassian-Webhook-Identifier"] for c in calls}) == 1
    assert [c.headers.get("X-Atlassian-Webhook-Retry") for c in calls] == [None, "1", "2"]
    assert len({c.raw for c in calls}) == 1  # the same body every time
    for call in calls:
        _verify_webhook_token(sandbox, call)
    (delivery,) = control(sandbox, "GET", "/deliveries")
    assert delivery["state"] == "delivered"
    assert [a["status"] for a in delivery["attempts"]] == [503, 503, 204]
    assert [a["retry"] for a in delivery["attempts"]] == [0, 1, 2]


@pytest.mark.parametrize("status", [408, 409, 425, 429, 500, 502])
def test_retryable_statuses(installed, status):
    sandbox, fake_app = installed
    fake_app.answer(HOOK, status)
    _create(sandbox)
    fake_app.wait_for(HOOK, 2)
    wait_idle(sandbox)
    assert control(sandbox, "GET", "/deliveries")[0]["state"] == "delivered"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_no_retry_on_other_4xx(installed, status):
    sandbox, fake_app = installed
    fake_app.answer(HOOK, status)
    _create(sandbox)
    wait_idle(sandbox)
    time.sleep(0.15)  # longer than a retry delay: nothing else arrives
    assert len(fake_app.calls(HOOK)) == 1
    (delivery,) = control(sandbox, "GET", "/deliveries?state=rejected")
    assert [a["status"] for a in delivery["attempts"]] == [status]


def test_gives_up_after_the_configured_retries(installed):
    sandbox, fake_app = installed
    fake_app.answer(HOOK, *[503] * 10)
    _create(sandbox)
    wait_idle(sandbox)
    assert len(fake_app.calls(HOOK)) == 6  # the first attempt and five retries
    (delivery,) = control(sandbox, "GET", "/deliveries?state=failed")
    assert [a["retry"] for a in delivery["attempts"]] == [0, 1, 2, 3, 4, 5]


def test_retry_after_is_honoured(installed):
    sandbox, fake_app = installed
    fake_app.answer(HOOK, 429, headers={"Retry-After": "0.4"})
    _create(sandbox)
    first, second = fake_app.wait_for(HOOK, 2)
    assert second.at - first.at >= 0.35


def test_connection_errors_are_retried_then_failed(installed):
    sandbox, _ = installed
    inst = sandbox.state.installation("alpha", APP_KEY)
    with sandbox.state.lock:
        inst.base_url = "http://127.0.0.1:9"  # discard port: nothing listens
    _create(sandbox)
    wait_idle(sandbox)
    (delivery,) = control(sandbox, "GET", "/deliveries")
    assert delivery["state"] == "failed"
    assert len(delivery["attempts"]) == 6
    assert all("error" in a for a in delivery["attempts"])


def test_timeouts_are_retried():
    app = FakeApp()
    with running_sandbox(retry_delays=(0.05,), delivery_timeout=0.2) as sandbox:
        slow = Flask("slow")
        seen: list[float] = []

        @slow.route("/<path:path>", methods=["GET", "POST"])
        def _any(path: str) -> Response:
            if path == "atlassian-connect.json":
                return Response(json.dumps(app.descriptor()), mimetype="application/json")
            if path == "webhooks/jira":
                seen.append(time.monotonic())
                if len(seen) == 1:
                    time.sleep(0.5)
            return Response(status=204)

        server, thread, port = serve(slow)
        try:
            app.base_url = f"http://127.0.0.1:{port}"
            control(sandbox, "POST", "/install", site="alpha", descriptor_url=app.descriptor_url)
            _create(sandbox)
            wait_idle(sandbox)
            (delivery,) = control(sandbox, "GET", "/deliveries")
            assert delivery["attempts"][0]["error"] == "timeout"
            assert delivery["attempts"][1]["status"] == 204
            assert delivery["state"] == "delivered"
        finally:
            server.shutdown()
            thread.join(timeout=5)


def test_redeliver_sends_the_same_delivery_again(installed):
    sandbox, fake_app = installed
    _create(sandbox)
    wait_idle(sandbox)
    (first,) = fake_app.calls(HOOK)
    identifier = first.headers["X-Atlassian-Webhook-Identifier"]
    asked_at = int(time.time())

    fake_app.answer(HOOK, 202)
    result = control(sandbox, "POST", f"/deliveries/{identifier}/redeliver")
    assert result == {"identifier": identifier, "status": 202, "error": None}
    second = fake_app.calls(HOOK)[1]
    assert second.headers["X-Atlassian-Webhook-Identifier"] == identifier
    assert second.raw == first.raw
    assert _verify_webhook_token(sandbox, second)["iat"] >= asked_at  # a fresh token
    control(sandbox, "POST", "/deliveries/nope/redeliver", 404)
    detail = control(sandbox, "GET", f"/deliveries/{identifier}")
    assert detail["body"] == first.body
    assert len(detail["attempts"]) == 2 and detail["attempts"][1]["redelivery"] is True


def test_human_update_sends_changelog(installed):
    sandbox, fake_app = installed
    _create(sandbox, labels=["a", "b"], priority="Medium")
    wait_idle(sandbox)  # Jira does not order deliveries; wait so indexes below are stable
    grace = sandbox.state.sites["alpha"].humans[1]
    control(
        sandbox,
        "PUT",
        "/sites/alpha/issues/ALP-1",
        summary="Printer still on fire",
        labels=["b", "c"],
        priority="High",
        status="In Progress",
        assignee=grace,
        actor=grace,
    )
    wait_idle(sandbox)
    update = fake_app.calls(HOOK)[1].body
    assert update["webhookEvent"] == "jira:issue_updated"
    assert update["issue_event_type_name"] == "issue_updated"
    assert update["user"]["accountId"] == grace
    items = {item["field"]: item for item in update["changelog"]["items"]}
    assert update["changelog"]["id"]
    assert items["summary"]["fromString"] == "Printer on fire"
    assert items["summary"]["toString"] == "Printer still on fire"
    assert (items["labels"]["fromString"], items["labels"]["toString"]) == ("a b", "b c")
    assert (items["priority"]["from"], items["priority"]["to"]) == ("3", "2")
    assert (items["status"]["fromString"], items["status"]["toString"]) == ("To Do", "In Progress")
    assert items["assignee"]["to"] == grace
    assert update["issue"]["fields"]["status"]["name"] == "In Progress"

    # editing to the same values changes nothing and fires nothing
    control(sandbox, "PUT", "/sites/alpha/issues/ALP-1", labels=["c", "b"])
    wait_idle(sandbox)
    assert len(fake_app.calls(HOOK)) == 2

    control(sandbox, "PUT", "/sites/alpha/issues/ALP-1", status="Done")
    wait_idle(sandbox)
    assert fake_app.calls(HOOK)[2].body["issue_event_type_name"] == "issue_generic"


def test_comment_events(installed):
    sandbox, fake_app = installed
    _create(sandbox)
    comment = control(sandbox, "POST", "/sites/alpha/issues/ALP-1/comments", 201, body="Hot!")
    assert comment["body"]["type"] == "doc"
    wait_idle(sandbox)
    by_event = {c.body["webhookEvent"]: c.body for c in fake_app.calls(HOOK)}
    created = by_event["comment_created"]
    assert created["comment"]["id"] == comment["id"]
    assert created["comment"]["body"] == "Hot!"
    assert created["issue"]["key"] == "ALP-1"
    assert set(created["issue"]["fields"]) <= {
        "summary",
        "issuetype",
        "project",
        "assignee",
        "priority",
        "status",
    }
    assert by_event["jira:issue_updated"]["issue_event_type_name"] == "issue_commented"

    control(sandbox, "PUT", f"/sites/alpha/issues/ALP-1/comments/{comment['id']}", body="Cold.")
    control(sandbox, "DELETE", f"/sites/alpha/issues/ALP-1/comments/{comment['id']}", 204)
    wait_idle(sandbox)
    events = [c.body["webhookEvent"] for c in fake_app.calls(HOOK)]
    assert events.count("comment_updated") == 1 and events.count("comment_deleted") == 1


def test_issue_deleted_fans_out_secondary_events(installed):
    sandbox, fake_app = installed
    _create(sandbox)
    control(sandbox, "POST", "/sites/alpha/issues/ALP-1/comments", 201, body="one")
    control(
        sandbox, "POST", "/sites/alpha/issues/ALP-1/attachments", 201, filename="a.txt", content="x"
    )
    wait_idle(sandbox)
    before = len(fake_app.calls(HOOK))
    control(sandbox, "DELETE", "/sites/alpha/issues/ALP-1", 204)
    wait_idle(sandbox)
    after = fake_app.calls(HOOK)[before:]
    flows = {c.body["webhookEvent"]: c.headers["X-Atlassian-Webhook-Flow"] for c in after}
    assert flows == {
        "jira:issue_deleted": "Primary",
        "comment_deleted": "Secondary",
        "attachment_deleted": "Secondary",
    }
    control(sandbox, "GET", "/sites/alpha/issues/ALP-1", 404)


def test_changes_by_the_app_come_back_as_the_app_user(installed):
    sandbox, fake_app = installed
    response = app_call(
        sandbox,
        "POST",
        "/rest/api/3/issue",
        json={"fields": {"project": {"key": "ALP"}, "issuetype": {"name": "Bug"}, "summary": "x"}},
    )
    assert response.status_code == 201
    (call,) = fake_app.wait_for(HOOK, 1)
    user = call.body["user"]
    inst = sandbox.state.installation("alpha", APP_KEY)
    assert user["accountId"] == inst.app_account_id
    assert user["accountType"] == "app"
    assert user["displayName"] == "Tandem (test)"


def test_disabled_and_other_sites_get_nothing(installed):
    sandbox, fake_app = installed
    control(sandbox, "POST", "/sites/beta/issues", 201, summary="elsewhere")
    control(sandbox, "POST", "/disable", site="alpha", app_key=APP_KEY)
    _create(sandbox)
    wait_idle(sandbox)
    assert fake_app.calls(HOOK) == []
    assert control(sandbox, "GET", "/deliveries") == []


def test_concurrent_changes_are_all_delivered(installed):
    sandbox, fake_app = installed
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(lambda n: _create(sandbox, summary=f"issue {n}")["key"], range(24)))
    assert sorted(keys, key=lambda k: int(k.split("-")[1])) == [f"ALP-{n}" for n in range(1, 25)]
    result = wait_idle(sandbox)
    assert result["counts"]["delivered"] == 24
    assert len({c.headers["X-Atlassian-Webhook-Identifier"] for c in fake_app.calls(HOOK)}) == 24
